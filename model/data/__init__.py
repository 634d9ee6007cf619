"""The digits themselves: MNIST read from its original files (``mnist``), a drawing or a photo
made into a 28x28 digit the way MNIST's digits were made (``preprocess``), and the few test
digits shipped with the app for when MNIST is not on the server (``samples``)."""
