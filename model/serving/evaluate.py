"""Scoring: the numbers every diagnostics page shows, and the ``model.serving.evaluate`` command.

    python -m model.serving.evaluate --arch cnn --data-dir ../shared/mnist --json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

from model import MODEL_DIR
from model.data.mnist import MnistError, load_mnist, unit_pixels
from model.serving.inference import ClassifierError, inference_ms, load_classifier

# Correctly classified digits kept per class, so the confusion-matrix page can show a
# diagonal cell too without the dataset.
CORRECT_EXAMPLES_PER_CLASS = 12


def score(probabilities: np.ndarray, labels: np.ndarray, images: np.ndarray) -> dict:
    """Everything ``evaluation.json`` holds, from predicted probabilities on the test set."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # float32 softmax sums drift by ~1e-7
    predicted = probabilities.argmax(axis=1)
    digits = list(range(10))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=digits, zero_division=0
    )
    wrong = np.flatnonzero(predicted != labels)
    misclassified = [
        {
            "index": int(i),
            "true": int(labels[i]),
            "predicted": int(predicted[i]),
            "confidence": round(float(probabilities[i, predicted[i]]), 6),
            "probabilities": [round(float(p), 6) for p in probabilities[i]],
            "pixels": images[i].astype(np.uint8).tolist(),
        }
        for i in wrong
    ]
    correct_examples = {}
    for d in digits:
        right = np.flatnonzero((labels == d) & (predicted == d))[:CORRECT_EXAMPLES_PER_CLASS]
        correct_examples[str(d)] = [
            {
                "index": int(i),
                "confidence": round(float(probabilities[i, d]), 6),
                "pixels": images[i].astype(np.uint8).tolist(),
            }
            for i in right
        ]
    return {
        "n": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "loss": float(log_loss(labels, np.clip(probabilities, 1e-12, 1.0), labels=digits)),
        "errors": int(len(wrong)),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=digits).tolist(),
        "per_class": [
            {
                "digit": d,
                "precision": float(precision[d]),
                "recall": float(recall[d]),
                "f1": float(f1[d]),
                "support": int(support[d]),
            }
            for d in digits
        ],
        "misclassified": misclassified,
        "correct_examples": correct_examples,
    }


def record_inference(card_path: Path, runtime: str, milliseconds: float) -> None:
    """Add the inference time to a card that was written without it, atomically."""
    card = json.loads(card_path.read_text())
    card["runtime"], card["inference_ms"] = runtime, milliseconds
    card["inference_measured"] = {
        "command": "python -m model.serving.evaluate " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    staging = card_path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(card, indent=1) + "\n")
    os.replace(staging, card_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-score a shipped model on the MNIST test set.")
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR)")
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR, help="where <arch>/ lives")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--record-inference", action="store_true",
        help="also write the measured inference milliseconds into the model's card.json",
    )
    args = parser.parse_args(argv)

    try:
        mnist = load_mnist(args.data_dir)
        classifier = load_classifier(args.arch, args.model_dir)
    except (MnistError, ClassifierError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    probabilities = classifier.predict_proba(unit_pixels(mnist.test.images))
    result = score(probabilities, mnist.test.labels, mnist.test.images)
    summary = {
        "arch": args.arch,
        "accuracy": result["accuracy"],
        "loss": result["loss"],
        "n": result["n"],
        "errors": result["errors"],
        "runtime": classifier.runtime,
    }
    summary["inference_ms"] = inference_ms(classifier.predict_proba, unit_pixels(mnist.test.images[0]))
    if args.record_inference:
        card_path = Path(args.model_dir) / args.arch / "card.json"
        record_inference(card_path, classifier.runtime, summary["inference_ms"])
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{args.arch}: accuracy {summary['accuracy']:.4%} ({summary['errors']} errors "
            f"of {summary['n']}), loss {summary['loss']:.4f}; "
            f"{summary['inference_ms']:.3f} ms a digit [{classifier.runtime}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
