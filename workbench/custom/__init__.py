"""Custom Keras layers mapped to DL4J by the user's choice, never by running the model's code.

* ``expression``: a small, safe expression language over the layer input ``x`` and the layer's own
  weights (``relu(x) * sigmoid(x)``, ``x * gamma + beta``); parsed with ``ast``, checked against the
  layer's shapes, evaluated in NumPy for the reference and compiled to SameDiff Java for DL4J.
* ``java_layers``: one generated DL4J layer class per expression mapping (``SameDiffLambdaLayer``
  without weights, ``SameDiffLayer`` with), compiled with ``javac`` into a jar DL4J loads.
* ``reference_ops``: the NumPy reference runs a generated layer by its ``expression`` property.
* ``pick`` / ``mapping_file``: map a custom layer by picking a built-in DL4J layer, and the JSON
  mapping files that record the user's choices.
"""
