"""A class's own drawings, for the Draw page's "Right?" and the Class page: the database
(``storage``) and what it keeps and for how long (``privacy``), a class set exported and imported
(``classdata``), a model fine-tuned on them (``finetune``, run in the background by
``finetune_runs``), and the join link with its QR code (``join``)."""
