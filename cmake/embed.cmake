# Writes OUTPUT, a C file defining `const char dgpg_default_yaml[]` with the
# bytes of INPUT and a terminating NUL (run by CMake in script mode).
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}"
  "/* generated from experiments/default.yaml by cmake/embed.cmake */\n"
  "const char dgpg_default_yaml[] = {${bytes} 0x00};\n")
