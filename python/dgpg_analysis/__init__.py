"""dgpg-analysis: dgpg's training logs and eval tables in pandas and xarray.

    import dgpg_analysis as da
    runs = da.load_runs("runs/studies/heuristics-full/*/log.h5")  # one long DataFrame
    log = da.load_log("runs/default/log.h5")   # .config, .episodes, .agents, .snapshot()
    table = da.load_eval("eval.h5")            # .per_scenario, .summary

A file that is not a dgpg log or table, of a newer format, or damaged
raises DgpgFileError naming the file and what is wrong.
"""
from ._files import DgpgFileError, complete_rows, refresh
from .evaluation import Eval, load_eval
from .log import Log, load_log
from .runs import load_runs
from .tensorboard import to_tensorboard

__version__ = "0.1.0"
__all__ = ["DgpgFileError", "Eval", "Log", "load_eval", "load_log", "load_runs",
           "to_tensorboard", "complete_rows", "refresh"]
