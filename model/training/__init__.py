"""What a training run (``model.train``) is made of: its settings (``config``), the networks and
their recipes (``networks``), carrying on after an interruption (``progress``), several runs
averaged and judged fairly (``ensemble``, ``judge``, ``shift_averaging``), what a run writes
(``results``), and the numpy FCN's hyperparameter search (``search``). The numpy networks
themselves are ``model.scratch``."""
