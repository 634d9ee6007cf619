"""The digits themselves: MNIST read from its original files (``mnist``), where it is on this
computer (``mnist_sources``) and fetched into the data folder when it is nowhere
(``mnist_download``), a drawing or a photo made into a 28x28 digit the way MNIST's digits were
made (``preprocess``), and the few test digits shipped with the app for when MNIST is not on the
server (``samples``)."""
