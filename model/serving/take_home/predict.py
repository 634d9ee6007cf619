"""Read handwritten digits from pictures with a model trained in Digit Lab.

    python predict.py digit.png [more.png ...]

Prints, for each picture, the digit the model reads and its ten probabilities. The picture goes
through preprocess.py, Digit Lab's own preprocessing of an uploaded photo (dark ink on light paper
or light on dark, any size, made into a 28x28 MNIST-style digit); the model runs on LiteRT
(model.tflite), or for the networks written in plain numpy on the engine in scratch/
(weights.npz). Copied into every model's download by Digit Lab (model/serving/export.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load_model():
    """The model beside this file, as a function from a (28, 28) digit to ten probabilities."""
    if (HERE / "model.tflite").is_file():
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(HERE / "model.tflite"), num_threads=1)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]["index"]
        result = interpreter.get_output_details()[0]["index"]

        def probabilities(digit: np.ndarray) -> np.ndarray:
            interpreter.set_tensor(source, digit.reshape(1, 28, 28, 1).astype(np.float32))
            interpreter.invoke()
            return interpreter.get_tensor(result)[0]

        return probabilities
    if (HERE / "weights.npz").is_file():
        from scratch.network import load_network

        network = load_network(HERE / "weights.npz")
        return lambda digit: network.predict_proba(digit[None])[0]
    raise SystemExit("There is no model.tflite or weights.npz beside predict.py.")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[1].strip())
        return 0 if argv else 2
    sys.path.insert(0, str(HERE))  # preprocess.py and scratch/ sit beside this file
    import preprocess

    probabilities = load_model()
    failed = 0
    for name in argv:
        try:
            digit = preprocess.upload_to_mnist(Path(name).read_bytes())
        except OSError as error:
            print(f"{name}: cannot be read ({error.strerror})")
            failed += 1
            continue
        except preprocess.ImageError as error:
            print(f"{name}: {error}")
            failed += 1
            continue
        if digit is None:
            print(f"{name}: no digit found (the picture looks empty)")
            failed += 1
            continue
        p = np.asarray(probabilities(digit), dtype=float)
        best = int(p.argmax())
        print(f"{name}: {best} ({p[best]:.1%} sure)")
        for d in range(10):
            print(f"  {d}: {p[d]:7.2%}{'  <-' if d == best else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
