"""train.py's --preset recipes: published configurations, each a dict of train.py's settings (any flag
given beside --preset overrides its value).  experiments.py's ptb experiment runs them."""

ZAREMBA_SMALL = dict(model="lstm", layers=2, hidden_dim=200, embedding_dim=200, init_scale=0.1, unroll=20,
                     batch_size=20, optimizer="sgd", learning_rate=1.0, lr_decay=0.5, decay_after=4, nepoch=13,
                     clip=5.0, bptt_truncate=-1, float=32)
# name: (what it is, its settings)
PRESETS = {
    "ptb-small": ("Zaremba et al. 2014's small LSTM, 2x200, no dropout, on continuous streams", ZAREMBA_SMALL),
    "ptb-small-regularized": ("the same size with tied embeddings (Press & Wolf 2016) and variational dropout "
                              "(Gal & Ghahramani 2016)",
                              {**ZAREMBA_SMALL, "tied": True, "dropout": 0.3, "variational_dropout": True,
                               "unroll": 35, "nepoch": 30, "decay_after": 8, "lr_decay": 0.8,
                               "halve_lr_on_rise": True}),
}
