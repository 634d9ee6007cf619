"""A trained model's folder read and run for the pages: its files checked against its card
(``artifacts``), the classifier on LiteRT, numpy or Keras (``inference``, ``keras_numpy``), its
test-set score (``evaluate``), and TensorFlow's start-up noise kept off the terminal
(``native_stderr``, ``quiet_tensorflow``)."""
