"""The command line: a thin layer over ``schedtui.core``."""
