"""A training run's log in JSON lines, one record per line as it happens: "start" (what runs: the header
line, the command), "report" (each evaluation: perplexities, learning rate, samples, ...) and "final"
(the valid and test perplexities, the total time).  train.py writes one beside its model, the PyTorch
peer (bench_torch.py --ptb-small) one where asked; experiments.py builds its tables from them."""
import json

from errors import InputError


def beside(model_path):
    """Where train.py's log of a run goes: beside its model file (runs/x.npz: runs/x.jsonl)."""
    return (model_path[:-4] if model_path.endswith(".npz") else model_path) + ".jsonl"


class RunLog:
    """Appends records to a log file, each flushed as it is written (a run that is killed keeps its records)."""

    def __init__(self, path, append=False):
        self.path = path
        self.file = open(path, "a" if append else "w", encoding="utf-8")

    def write(self, event, **fields):
        self.file.write(json.dumps({"event": event, **fields}) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


def read(path):
    """The records of a log, in order; a line that is not a JSON record is an InputError naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputError(f"{path}, line {number}: not a JSON record ({error})") from None
            if not isinstance(records[-1], dict) or "event" not in records[-1]:
                raise InputError(f"{path}, line {number}: not a run log record (no event)")
    return records
