"""Test-time shift averaging: a Keras model's probabilities averaged over the digit and its
copies moved one pixel each way (``model.training.networks.shift_averaged``), shipped only when the
validation digits say it reads more of them right."""
from __future__ import annotations

from model.data.mnist import Split
from model.training.networks import shift_averaged
from model.training.results import TrainResult, keras_result, validation_accuracy


def choose_shift_averaging(arch: str, result: TrainResult, val: Split) -> TrainResult:
    """The trained model or its shift-averaged form, whichever reads more validation digits
    right (the plain one on a tie: it is 5x cheaper to run). Both figures go on the card."""
    shifted = keras_result(shift_averaged(result.model, arch), result.history, result.best_epoch,
                           result.optimizer, {})
    plain_accuracy = validation_accuracy(result.predict_proba, val)
    shifted_accuracy = validation_accuracy(shifted.predict_proba, val)
    chosen = shifted if shifted_accuracy > plain_accuracy else result
    chosen.extras = {
        **result.extras,
        "validation_accuracy": max(plain_accuracy, shifted_accuracy),
        "shift_averaging": {
            "validation_accuracy_without": plain_accuracy,
            "validation_accuracy_with": shifted_accuracy,
            "shipped": chosen is shifted,
        },
    }
    chosen.train_seconds, chosen.member_histories = result.train_seconds, result.member_histories
    return chosen
