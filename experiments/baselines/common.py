"""What the two baselines (jax_ppo.py, torch_ppo.py) share: the workload's
settings, taken from experiments/default.yaml's env and algo sections, the
observation's size, and their common command line. Pure Python, so that
jax_ppo.py can parse its arguments before jax starts."""
import argparse

ENV = dict(rho=0.8, lambda_mean=1.0, lambda_sigma=0.5, day_amplitude=0.25, day_length=200,
           phase_spread=0.5, instance_types=4, servers_max=4, buffer_steps=20.0,
           drop_weight=10.0)
ALGO = dict(lr=5e-4, adam_eps=1e-5, clip=0.2, gamma=0.99, gae_lambda=0.95,
            entropy_coef=0.01, value_coef=1.0, huber_delta=10.0, max_grad_norm=10.0,
            hidden=64)
VALUE_NORM_BETA = 0.99999


def obs_dim(M):
    """An agent's observation (docs/environment.md): 5 + 2M."""
    return 5 + 2 * M


def argument_parser(doc, warmup_help, threads_help):
    """The options both baselines take; each adds its own."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="agents N (default 200)")
    p.add_argument("--e", type=int, default=16, help="environments E (default 16)")
    p.add_argument("--t", type=int, default=200, help="steps per episode T (default 200)")
    p.add_argument("--m", type=int, default=8, help="pools M (default 8)")
    p.add_argument("--epochs", type=int, default=5, help="PPO epochs (default 5)")
    p.add_argument("--episodes", type=int, default=2, help="timed episodes (default 2)")
    p.add_argument("--warmup", type=int, default=1, help=warmup_help)
    p.add_argument("--threads", type=int, default=0, help=threads_help)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print only the RESULT line")
    return p


def check_sizes(p, args):
    """Refuses sizes below 1 through the parser (exit 2, naming the option)."""
    for name in ("n", "e", "t", "m", "epochs", "episodes"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
