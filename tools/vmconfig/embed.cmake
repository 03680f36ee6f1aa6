# cmake -DIN=file.dtb -DOUT=file.cpp -DSYMBOL=NAME -P embed.cmake: writes IN as the byte array
# vmconfig::NAME (with NAME_SIZE) into OUT.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(LENGTH "${hex}" digits)
math(EXPR size "${digits} / 2")
file(WRITE ${OUT} "// Generated from ${IN} by embed.cmake: do not edit.\n#include <cstddef>\n#include <cstdint>\n"
     "namespace vmconfig {\nextern const uint8_t ${SYMBOL}[] = {${bytes}};\n"
     "extern const size_t ${SYMBOL}_SIZE = ${size};\n}\n")
