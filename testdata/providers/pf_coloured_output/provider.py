import os
import sys

sys.stderr.write("\x1b[1;31mERROR\x1b[0m could not load the weights\n")
sys.stderr.write("downloading:  10%\rdownloading:  50%\rdownloading: 100%\n")
sys.stderr.write("\x1b]0;title set by a provider\x07done\x07\x1b[2J\n")
sys.stderr.flush()
os._exit(3)
