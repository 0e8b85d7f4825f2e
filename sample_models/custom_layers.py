"""Custom Keras layers used by the bundled sample models.

This is the *trusted* Python file a user hands to the workbench with
``--custom-objects sample_models/custom_layers.py``.  It defines every custom
class twice:

* for Keras 3 (``import keras``) -> ``CUSTOM_OBJECTS``
* for Keras 2 (``import tf_keras``) -> ``CUSTOM_OBJECTS_KERAS2``

Both dicts are keyed by the plain class name (``"MyActivation"``) AND by the
registered name (``"workbench_samples>MyActivation"``), so they work whichever
form a saved config uses.  Both definitions are registered with the respective
framework's ``register_keras_serializable(package="workbench_samples")``.

If Keras 3 or tf_keras is not installed, the corresponding dict is empty (the
file stays importable with neither installed).

Layers
------
MyActivation  no weights; ``call(x) = relu(x) * sigmoid(x)``.
ScaleShift    trainable weights ``gamma`` and ``beta`` of shape ``(units,)``
              where ``units`` is the last input dimension (created in
              ``build``); ``call(x) = x * gamma + beta``.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

PACKAGE = "workbench_samples"
CLASS_NAMES = ("MyActivation", "ScaleShift")


def _keyed(classes):
    """{class name: cls, "package>class name": cls} for every class."""
    out = {}
    for cls in classes:
        out[cls.__name__] = cls
        out[f"{PACKAGE}>{cls.__name__}"] = cls
    return out


# --------------------------------------------------------------------------
# Keras 3
# --------------------------------------------------------------------------
def _define_keras3():
    import keras

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class MyActivation(keras.layers.Layer):
        """relu(x) * sigmoid(x); no weights."""

        def call(self, inputs):
            return keras.ops.relu(inputs) * keras.ops.sigmoid(inputs)

        def compute_output_shape(self, input_shape):
            return input_shape

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class ScaleShift(keras.layers.Layer):
        """x * gamma + beta, gamma/beta of shape (units,) = (last input dim,)."""

        def build(self, input_shape):
            units = int(input_shape[-1])
            self.gamma = self.add_weight(
                name="gamma", shape=(units,), initializer="ones", trainable=True
            )
            self.beta = self.add_weight(
                name="beta", shape=(units,), initializer="zeros", trainable=True
            )

        def call(self, inputs):
            return inputs * self.gamma + self.beta

        def compute_output_shape(self, input_shape):
            return input_shape

    return MyActivation, ScaleShift


# --------------------------------------------------------------------------
# Keras 2 (tf_keras)
# --------------------------------------------------------------------------
def _define_keras2():
    import tensorflow as tf
    import tf_keras

    @tf_keras.utils.register_keras_serializable(package=PACKAGE)
    class MyActivation(tf_keras.layers.Layer):
        """relu(x) * sigmoid(x); no weights."""

        def call(self, inputs):
            return tf.nn.relu(inputs) * tf.sigmoid(inputs)

        def compute_output_shape(self, input_shape):
            return input_shape

    @tf_keras.utils.register_keras_serializable(package=PACKAGE)
    class ScaleShift(tf_keras.layers.Layer):
        """x * gamma + beta, gamma/beta of shape (units,) = (last input dim,)."""

        def build(self, input_shape):
            units = int(input_shape[-1])
            self.gamma = self.add_weight(
                name="gamma", shape=(units,), initializer="ones", trainable=True
            )
            self.beta = self.add_weight(
                name="beta", shape=(units,), initializer="zeros", trainable=True
            )
            super().build(input_shape)

        def call(self, inputs):
            return inputs * self.gamma + self.beta

        def compute_output_shape(self, input_shape):
            return input_shape

    return MyActivation, ScaleShift


try:
    MyActivation, ScaleShift = _define_keras3()
except ImportError:  # Keras 3 not installed
    MyActivation = ScaleShift = None
    CUSTOM_OBJECTS: dict = {}
else:
    CUSTOM_OBJECTS = _keyed((MyActivation, ScaleShift))

try:
    MyActivationKeras2, ScaleShiftKeras2 = _define_keras2()
except ImportError:  # tf_keras not installed
    MyActivationKeras2 = ScaleShiftKeras2 = None
    CUSTOM_OBJECTS_KERAS2: dict = {}
else:
    CUSTOM_OBJECTS_KERAS2 = _keyed((MyActivationKeras2, ScaleShiftKeras2))

__all__ = [
    "CUSTOM_OBJECTS",
    "CUSTOM_OBJECTS_KERAS2",
    "MyActivation",
    "ScaleShift",
    "MyActivationKeras2",
    "ScaleShiftKeras2",
]
