# The parameter-file helpers of the tutorial idiom, for compare.py's tests (Python 2 print statements).
import numpy as np


def save_model_parameters_theano(outfile, model):
    np.savez(outfile, U=model.U.get_value(), V=model.V.get_value(), W=model.W.get_value())
    print "Saved %s" % outfile


def load_model_parameters_theano(path, model):
    arrays = np.load(path)
    model.hidden_dim, model.word_dim = arrays["U"].shape
    for name in "UVW":
        getattr(model, name).set_value(arrays[name])
    print "Loaded %s: hidden_dim=%d word_dim=%d" % (path, model.hidden_dim, model.word_dim)
