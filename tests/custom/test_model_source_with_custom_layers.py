"""The Java source of a whole model that contains generated custom layers builds the same network as the zip."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SAMPLES
from workbench.session import Session

pytestmark = [pytest.mark.dl4j]


@pytest.mark.parametrize("stem", ["seed", "scale_shift"])
def test_model_source_with_generated_layers_matches_the_zip(tmp_path, stem, dl4j_ready):
    """Compiled against the generated layer jar, ConvertedModel.build() gives every layer the zip gives, and Keras's output."""
    from workbench.check.dl4j_jvm import run_dl4j, run_java_source
    from workbench.check.verify import dl4j_inputs
    from workbench.export.java_source import compile_java

    session = Session(SAMPLES / f"{stem}.h5")
    session.load_mapping(SAMPLES / "mapping.json")
    jar = session.export_custom_jar(tmp_path / "layers")
    project = session.export_java(tmp_path / "project")
    classes = compile_java(project / "src", tmp_path / "classes", extra_jars=[jar])
    stored = np.load(SAMPLES / f"{stem}_io.npz")
    inputs = dl4j_inputs(session.conversion, {"input": stored["input:input"]})
    from_source = run_java_source("workbench.generated.ConvertedModel", classes, project / "params", inputs,
                                  extra_jars=[jar])
    from_zip = run_dl4j(session.export_zip(tmp_path / "model.zip"), inputs, extra_jars=[jar])
    assert from_source.error is None and from_zip.error is None
    for name in ("dense", stem if stem == "scale_shift" else "my_activation", "dense_1"):
        np.testing.assert_allclose(from_source.outputs[name], from_zip.outputs[name], atol=1e-6, rtol=0)
    np.testing.assert_allclose(from_source.outputs["dense_1"], stored["output:dense_1"], atol=1e-5, rtol=0)
