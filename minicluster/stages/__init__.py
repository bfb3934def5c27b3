"""One module per stage: the cluster that stage builds and the experiments its notebook runs.

The notebooks and ``minicluster tour`` call the same functions, so the numbers a learner sees in
JupyterLab and the ones the terminal prints come from one piece of code.
"""
