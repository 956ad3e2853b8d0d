"""Run the command line with ``python -m probe_rnn``."""

from probe_rnn.cli import main

if __name__ == "__main__":
    main()
