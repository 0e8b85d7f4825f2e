"""What Keras's own layers store: weight names in order, per class and config.

Used to name the anonymous ``vars/N`` of ``.keras`` files and to check that a file holds
every weight its config implies. Custom classes are not in here: their weights are taken
as the file lists them.
"""
from __future__ import annotations

from typing import Any

RECURRENT = frozenset({"LSTM", "GRU", "SimpleRNN"})
CELL_NAMES = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}
WRAPPERS = frozenset({"Bidirectional", "TimeDistributed"})

_KERNEL_BIAS = frozenset({
    "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "LocallyConnected1D", "LocallyConnected2D", "EinsumDense",
})
_NO_WEIGHTS = frozenset({
    "InputLayer", "Activation", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "AlphaDropout", "GaussianDropout", "GaussianNoise", "Flatten", "Reshape", "Permute", "RepeatVector",
    "Masking", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
    "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Add", "Subtract", "Multiply", "Average",
    "Maximum", "Minimum", "Concatenate", "Dot", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU",
    "Softmax", "Identity", "Lambda", "ActivityRegularization", "UnitNormalization",
})


def known_class(class_name: str) -> bool:
    """True when this catalog knows the class's weights."""
    return class_name in _KERNEL_BIAS or class_name in _NO_WEIGHTS or class_name in RECURRENT or class_name in {
        "SeparableConv1D", "SeparableConv2D", "BatchNormalization", "LayerNormalization",
        "GroupNormalization", "Embedding", "PReLU",
    }


def expected_weight_names(class_name: str, config: dict[str, Any]) -> list[str] | None:
    """The weight names Keras stores for a layer, in order; None for a class not known here."""
    use_bias = config.get("use_bias", True)
    if class_name in _NO_WEIGHTS:
        return []
    if class_name in _KERNEL_BIAS:
        return ["kernel", "bias"] if use_bias else ["kernel"]
    if class_name in ("SeparableConv1D", "SeparableConv2D"):
        names = ["depthwise_kernel", "pointwise_kernel"]
        return names + ["bias"] if use_bias else names
    if class_name == "BatchNormalization":
        names = ["gamma"] if config.get("scale", True) else []
        names += ["beta"] if config.get("center", True) else []
        return names + ["moving_mean", "moving_variance"]
    if class_name in ("LayerNormalization", "GroupNormalization"):
        names = ["gamma"] if config.get("scale", True) else []
        return names + (["beta"] if config.get("center", True) else [])
    if class_name == "Embedding":
        return ["embeddings"]
    if class_name == "PReLU":
        return ["alpha"]
    if class_name in RECURRENT:
        return ["kernel", "recurrent_kernel", "bias"] if use_bias else ["kernel", "recurrent_kernel"]
    return None


# Every layer class Keras itself ships (keras 3.15 ``keras.layers`` plus Keras 2-only and model classes);
# any other class name is a custom class, even when the file names no module for it.
KERAS_CLASSES = frozenset({
    "Activation", "ActivityRegularization", "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
    "Add", "AdditiveAttention", "AlphaDropout", "Attention", "AugMix", "AutoContrast", "Average",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "BatchNormalization", "Bidirectional", "CategoryEncoding", "CenterCrop", "Concatenate",
    "ContrastLimitedAdaptiveHistogramEqualization", "Conv1D", "Conv1DTranspose", "Conv2D",
    "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    "Convolution1D", "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
    "Convolution3D", "Convolution3DTranspose", "Cropping1D", "Cropping2D", "Cropping3D", "CuDNNGRU",
    "CuDNNLSTM", "CutMix", "Dense", "DenseFeatures", "DepthwiseConv1D", "DepthwiseConv2D",
    "Discretization", "Dot", "Dropout", "ELU", "EinsumDense", "Embedding", "Equalization", "Flatten",
    "FlaxLayer", "Functional", "GRU", "GRUCell", "GaussianDropout", "GaussianNoise",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
    "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GroupNormalization",
    "GroupQueryAttention", "HashedCrossing", "Hashing", "Identity", "InputLayer", "IntegerLookup",
    "JaxLayer", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization", "LeakyReLU",
    "LocallyConnected1D", "LocallyConnected2D", "Masking", "MaxNumBoundingBoxes", "MaxPool1D",
    "MaxPool2D", "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum",
    "MelSpectrogram", "Minimum", "MixUp", "Model", "MultiHeadAttention", "Multiply", "Normalization",
    "PReLU", "Permute", "Pipeline", "RMSNormalization", "RNN", "RandAugment", "RandomBrightness",
    "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale",
    "RandomHue", "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation",
    "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "ReLU",
    "RepeatVector", "Rescaling", "Reshape", "Resizing", "ReversibleEmbedding", "STFTSpectrogram",
    "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
    "Sequential", "SimpleRNN", "SimpleRNNCell", "SlicingOpLambda", "Softmax", "Solarization",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "SpectralNormalization",
    "StackedRNNCells", "StringLookup", "Subtract", "TFOpLambda", "TFSMLayer", "TensorFlowOpLayer",
    "TextVectorization", "ThresholdedReLU", "TimeDistributed", "TorchModuleWrapper",
    "UnitNormalization", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Wrapper", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D"
})
