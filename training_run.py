"""A training run as train.py makes it: training.train_with_sgd's loop with what a user sees and keeps
around it.  A progress bar; reports, each one evaluation, learning-rate schedule, checkpoint, printed
report, samples (in sentence mode every --print-every sentences, in stream mode after every epoch); a
JSON-lines log of every report beside the model (runlog.py); and a clean stop on SIGINT or SIGTERM that
leaves a checkpoint to resume from."""
import datetime
import math
import signal
import sys
import time

import numpy as np

import runlog
import training
from corpus import SENTENCE_END_TOKEN, SENTENCE_START_TOKEN
from utils import save_checkpoint, write_atomically


def plot_curve(path, history, title, seen="sentences"):
    if not history:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    seen, loss = zip(*history)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(seen, np.exp(loss), marker="o")
    ax.set_xlabel(f"{seen} seen")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


class Totals:
    """Summed cross-entropy and predicted words since a point (the last report, the epoch's start)."""

    def __init__(self):
        self.cost, self.words, self.started = 0.0, 0, time.perf_counter()

    def add(self, words, cost):
        self.cost += cost
        self.words += words

    def perplexity(self):
        return training.exp_loss(self.cost / max(self.words, 1))


class TrainingRun:
    """One run of train.py on a model: settings s (train.py's), the training state, the corpus's splits
    and vocabulary, and the model file `out` that checkpoints go to.  continues: the run resumes the
    checkpoint at out, so its log is continued too."""

    def __init__(self, model, s, state, data, index_to_word, word_to_index, out, continues=False):
        self.model, self.s, self.state, self.data = model, s, state, data
        self.index_to_word, self.word_to_index, self.out, self.continues = index_to_word, word_to_index, out, continues
        self.split, self.evaluation_data = (("valid", data["valid"]) if "valid" in data else
                                            ("train", tuple(p[:2000] for p in data["train"])))
        self.unit = "tokens" if s["unroll"] else "sentences"      # what an example is
        self.log, self.progress, self.said_where, self.stop = None, None, False, None

    # ------------------------------------------------------------------------------ shared steps
    def say(self, text):
        (self.progress.write if self.progress else print)(text)

    def evaluation_loss(self, X, Y, streams=None):
        """Mean cross-entropy per predicted word: over sentences, or in stream mode over the corpus as
        `streams` continuous streams (default --batch-size) in windows of --unroll steps."""
        if self.s["unroll"]:
            total, words = training.evaluate_stream(self.model, training.token_stream(Y),
                                                    streams or self.s["batch_size"], self.s["unroll"])
        else:
            total, words = training.evaluate(self.model, X, Y)
        return total / words

    def sample(self):
        """Sentences after SENTENCE_START, or in stream mode after a sentence's end, drawn from np.random
        without advancing it: training (shuffles, dropout) then draws the same numbers with or without
        samples, and a checkpoint's random state serves a resume exactly."""
        after = SENTENCE_END_TOKEN if self.s["unroll"] else SENTENCE_START_TOKEN
        random_state = np.random.get_state()
        sentences = [" ".join(training.generate_sentence(self.model, self.index_to_word, self.word_to_index,
                                                         self.s["temperature"], after=after))
                     for _ in range(self.s["sample"])]
        np.random.set_state(random_state)
        return sentences

    def checkpoint(self, loss=0.0):
        """Save, unless the run has diverged: a non-finite parameter, or a non-finite evaluation loss from
        parameters grown huge but still finite.  The last good checkpoint is then kept."""
        seen = f"{self.state.examples_seen} {self.unit}"
        if not all(np.isfinite(p.get_value(borrow=True)).all() for p in self.model.params):
            raise training.Diverged(f"the parameters became NaN or infinite after {seen}")
        if not math.isfinite(loss):
            raise training.Diverged(f"the {self.split} loss became {loss} after {seen}")
        save_checkpoint(self.out, self.model, self.state, self.index_to_word, self.s)
        plot_curve(self.out[:-4] + ".png" if self.out.endswith(".npz") else self.out + ".png", self.state.history,
                   f"{type(self.model).__name__} {self.model.hidden_dim} on "
                   f"{self.s['input_data_file'] or 'Penn Treebank'}", self.unit)

    def report(self, epoch, trained, learning_rate):
        """Evaluate, record the loss (maybe halving the rate), checkpoint, print the report, sample, and
        log it all.  epoch: the epoch reported on (from 1); trained: the Totals of the training batches
        since the last report (stream mode: the epoch's); learning_rate: the rate they trained at.  Its
        seconds count the evaluation and checkpoint too; its tokens/s, the training alone."""
        training_seconds = time.perf_counter() - trained.started
        loss = self.evaluation_loss(*self.evaluation_data)
        halved = training.record_loss(self.state, loss, self.s["halve_lr_on_rise"])
        self.checkpoint(loss)
        record = dict(time=datetime.datetime.now().isoformat(timespec="seconds"), epoch=epoch,
                      examples_seen=self.state.examples_seen, unit=self.unit, split=self.split, loss=loss,
                      perplexity=training.exp_loss(loss), train_perplexity=trained.perplexity(),
                      learning_rate=learning_rate, halved=halved, seconds=time.perf_counter() - trained.started,
                      tokens_per_second=trained.words / training_seconds)
        self.say(self.epoch_line(record) if self.s["unroll"] else self.report_lines(record))
        record["samples"] = self.sample()
        for sentence in record["samples"]:
            self.say("  " + sentence)
        self.say(f"Saved model parameters to {self.out}.")
        self.said_where = True
        self.log.write("report", **record)

    def report_lines(self, r):
        """Sentence mode's report, the GRU tutorial's (time, examples seen, a rule, the loss)."""
        return (f"\n{r['time']} ({r['examples_seen']} sentences, epoch {r['epoch']})\n" + "-" * 50 +
                f"\nLoss: {r['loss']:f}   {r['split']} perplexity {r['perplexity']:.1f}   "
                f"train perplexity {r['train_perplexity']:.1f} (the batches since the last report)"
                + (f"\nSetting learning rate to {self.state.learning_rate:g}" if r["halved"] else ""))

    def epoch_line(self, r):
        """Stream mode's report: one line per epoch."""
        return (f"epoch {r['epoch']}: train perplexity {r['train_perplexity']:.2f}, {r['split']} perplexity "
                f"{r['perplexity']:.2f}, {r['seconds']:.0f} s ({r['tokens_per_second']:,.0f} training tokens/s), "
                f"learning rate {r['learning_rate']:g}"
                + (f"; halved to {self.state.learning_rate:g}, the {r['split']} loss rose" if r["halved"] else ""))

    # ------------------------------------------------------------------------------ the run
    def timed_step(self, feed):
        """The tutorials' first line: how long one training step takes (on a copy of the state: the step is
        undone, and np.random restored, so timing it does not change the run).  Returns (seconds, what the
        step trained on)."""
        s, model = self.s, self.model
        if s["unroll"]:
            batch = feed.plan()[0]
            what = f"{s['batch_size']} streams x {s['unroll']} steps"
        else:                                         # the tutorials timed X_train[10]; in batches, a typical
            by_length = np.argsort(feed.lengths, kind="stable")          # bucketed batch of median length
            middle = max(0, len(by_length) // 2 - s["batch_size"] // 2)
            batch = ([min(10, feed.size - 1)] if s["batch_size"] == 1 else
                     by_length[middle:middle + s["batch_size"]].tolist())
            what = f"{len(batch)} sentences, {sum(feed.lengths[i] for i in batch)} words"
        options = dict(optimizer=s["optimizer"], clip=s["clip"])
        rate = self.state.learning_rate
        saved, random_state = [v.get_value() for v in model.params + model.slots], np.random.get_state()
        feed.train(model, training.TrainingState(rate), batch, **options)   # compiles, creates the slots
        saved += [np.zeros_like(v.get_value()) for v in model.slots[len(saved) - len(model.params):]]   # as created
        start = time.perf_counter()
        feed.train(model, training.TrainingState(rate), batch, **options)
        elapsed = time.perf_counter() - start
        for v, value in zip(model.params + model.slots, saved):
            v.set_value(value)
        np.random.set_state(random_state)
        return elapsed, what

    def train(self, header, command):
        """Compile and time the step, then train to --nepoch; header and command start the log."""
        s = self.s
        print("Compiling the training step (the first run takes a minute or two; then it is cached)...", flush=True)
        started = time.perf_counter()
        X_train, y_train = self.data["train"]
        feed = training.feed(X_train, y_train, s["batch_size"], s["unroll"])
        seconds, what = self.timed_step(feed)
        compiled = time.perf_counter() - started
        print(f"Compiled in {compiled:.0f} s.")
        print("SGD Step time: %f milliseconds (%s)" % (seconds * 1000, what))
        sys.stdout.flush()
        self.log = runlog.RunLog(runlog.beside(self.out), append=self.continues)
        self.log.write("start", header=header, command=command, compile_seconds=round(compiled, 1),
                       step_ms=seconds * 1000, step=what)
        if s["progress"]:
            from tqdm import tqdm
            self.progress = tqdm(total=feed.size * s["nepoch"], initial=self.state.examples_seen, unit=self.unit[:3],
                                 dynamic_ncols=True, file=sys.stderr, smoothing=0.05)
        try:
            self.loop()
        finally:
            if self.progress:
                self.progress.close()
                self.progress = None
        if not self.state.history or self.state.history[-1][0] != self.state.examples_seen:
            self.checkpoint()        # the training state as it is: a later resume continues exactly from here
        if not self.said_where:
            print(f"Saved model parameters to {self.out}.")

    def loop(self):
        s, state = self.s, self.state
        recent, epoch = Totals(), Totals()      # since the last report; since the epoch's start

        def on_batch(state, words, cost):
            if not math.isfinite(cost):
                raise training.Diverged(f"the loss became {cost} after {state.examples_seen} {self.unit}")
            recent.add(words, cost)
            epoch.add(words, cost)
            if self.progress:
                self.progress.update(state.examples_seen - self.progress.n)
                self.progress.set_postfix_str(f"train ppl {recent.perplexity():.1f}", refresh=False)

        def every_print(model, state):          # sentence mode: every --print-every sentences
            nonlocal recent
            self.report(state.epoch + 1, recent, state.learning_rate)
            recent = Totals()

        def on_epoch(model, state):
            """The learning-rate schedule; in stream mode also the epoch's report."""
            nonlocal epoch
            rate = state.learning_rate
            if state.epoch >= s["decay_after"]:
                state.learning_rate *= s["lr_decay"]
            if s["unroll"]:
                self.report(state.epoch, epoch, rate)
            epoch = Totals()

        def interrupt(signum, frame):   # act at the end of the current batch, where the state is consistent
            self.stop = signal.Signals(signum).name

        handlers = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            training.train_with_sgd(self.model, *self.data["train"], state, s["nepoch"], optimizer=s["optimizer"],
                                    clip=s["clip"], batch_size=s["batch_size"], unroll=s["unroll"],
                                    callback=every_print, callback_every=0 if s["unroll"] else s["print_every"],
                                    on_batch=on_batch, on_epoch=on_epoch, should_stop=lambda: bool(self.stop))
        except training.Interrupted:
            if self.progress:
                self.progress.close()
                self.progress = None
            self.checkpoint()
            print(f"{self.stop}: saved the model and training state to {self.out} after {state.examples_seen} "
                  f"{self.unit}; resume with --model-file {self.out}", file=sys.stderr)
            sys.exit(130 if self.stop == "SIGINT" else 143)
        except training.Diverged as error:
            raise training.Diverged(f"{error}; the last checkpoint, if any, is kept in {self.out}") from None
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def finish(self, began):
        """The final report: valid and test perplexity (in stream mode as one stream), the total time since
        `began`, samples; logged too if this process trained."""
        how = " (one continuous stream)" if self.s["unroll"] else ""
        final = {}
        for split in ("valid", "test"):
            if split in self.data:
                final[split] = training.exp_loss(self.evaluation_loss(*self.data[split], streams=1))
                print(f"{split.capitalize()} perplexity{how}: {final[split]:.2f}", flush=True)
        final["seconds"] = time.perf_counter() - began
        print(f"Total time: {final['seconds']:.0f} s (loading, compiling, training, evaluating)")
        samples = self.sample()
        if samples:
            print("Samples:")
            for sentence in samples:
                print("  " + sentence)
        if self.log:
            self.log.write("final", **final, samples=samples)
            self.log.close()
