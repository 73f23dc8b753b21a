"""What a model file holds besides the parameters, and what a file tells about the model that wrote it.

A model file is the tutorials' .npz: every parameter under its name.  Options that the names and shapes
cannot tell (tied embeddings, the Clockwork RNN's periods, an LSTM's ablation) are kept as extra arrays,
which readers of the original format ignore.  utils.py writes and reads the files (model_arrays,
load_model_parameters_aesara) through the methods here.  They sit in a base class of their own, below
recurrent.py, because utils.py sits above it (it imports recurrent.assign, the training state and the
corpus); each model overrides only the two methods that declare its own options.
"""
import numpy as np


class ModelFile:
    """The file methods every model has: RecurrentLM's base.  A model overrides file_options and
    file_metadata for its own options; file_shape and metadata add the input embedding's."""

    @classmethod
    def file_options(cls, arrays):
        """Constructor options a parameter file implies beyond its sizes (e.g. the number of layers)."""
        return {}

    def file_metadata(self):
        """Arrays a parameter file keeps beside the parameters, for options that file_options cannot
        read off the parameters' names and shapes."""
        return {}

    @classmethod
    def file_shape(cls, arrays):
        """Every constructor option a parameter file implies: the input embedding's, then the model's."""
        shared = {"embedding_dim": int(arrays["embedding"].shape[0])} if "embedding" in arrays else {}
        if "tied" in arrays:
            shared["tied"] = bool(arrays["tied"])
        return {**shared, **cls.file_options(arrays)}

    def metadata(self):
        """The arrays a model file keeps beside the parameters (file_shape reads them back)."""
        return {**({"tied": np.array(True)} if self.tied else {}), **self.file_metadata()}

