"""The Train page's trainings, run in the background one at a time per server: what a job is
(``job``), the one training slot and the files it is kept in (``slot``), whether a training's
process still runs (``processes``), starting, stopping and queueing jobs (``queue``), the
models they make (``models``), and the process that trains one (``runner``)."""
