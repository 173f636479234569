"""tooljudge: fine-tune models for tool use and judging, with template-exact masks and honest evals.

The top-level folders install under this namespace: ``tooljudge.data_prep`` (data_prep/),
``tooljudge.train`` (train/) and ``tooljudge.eval`` (eval/).
"""

from tooljudge.cpu_memory import default_thp

default_thp()  # before anything imports torch: huge pages for large CPU tensors (tooljudge/cpu_memory.py)

__version__ = "0.1.0"
