"""unroll's tokenizers (tokenizer.json of `unroll export torch`) in plain Python: encode and decode.

The same ids as unroll's CharTokenizer, WordTokenizer and BpeTokenizer (packages/nlp/src/tokenizers):
the text is split by the same rules, written out here as small scanners instead of regular
expressions, because Python's `re` has no `\\p{L}`. JavaScript's `\\s` is spelt out as `SPACE`.

    import tokenizer
    tok = tokenizer.load("export-dir/tokenizer.json")
    ids = tok.encode("Call me Ishmael.")
    text = tok.decode(ids)
"""

import json
import unicodedata

TOKENIZER_FORMAT = "unroll-tokenizer"
TOKENIZER_VERSION = 1

# JavaScript's \s: WhiteSpace and LineTerminator (not Python's str.isspace, which adds \x1c-\x1f and \x85).
SPACE = frozenset("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")


def _category(c):
    return unicodedata.category(c)[0]


def _run(text, i, inside):
    """The end of the run of characters from i for which inside(c) holds."""
    n = len(text)
    while i < n and inside(text[i]):
        i += 1
    return i


class CharTokenizer:
    """One token per code point; anything unseen encodes to unk_id."""

    kind = "char"

    def __init__(self, tokens, unk_id):
        self.tokens = list(tokens)
        self.unk_id = unk_id
        self.ids = {t: i for i, t in enumerate(self.tokens) if len(t) == 1}

    @property
    def vocab_size(self):
        return len(self.tokens)

    def encode(self, text):
        get, unk = self.ids.get, self.unk_id
        return [get(c, unk) for c in text]

    def decode(self, ids):
        return "".join(self.tokens[i] for i in ids)


def _word_char(c):
    return c == "_" or _category(c) in "LMN"


def _word_end(text, i):
    """The end of the word at i ([\\p{L}\\p{M}\\p{N}_]+ with inner apostrophes), or i if there is none."""
    n = len(text)
    j = _run(text, i, _word_char)
    if j == i:
        return i
    while j + 1 < n and text[j] in "'\u2019" and _word_char(text[j + 1]):
        j = _run(text, j + 1, _word_char)
    return j


def _piece_end(text, i):
    """unroll's word pieces: a whitespace run, a word, or any other single character."""
    if text[i] in SPACE:
        return _run(text, i, SPACE.__contains__)
    j = _word_end(text, i)
    return j if j > i else i + 1


def _attached_piece_end(text, i):
    """The same with spaces attached: ` ?word| ?[^\\s]|\\s+?(?= \\S)|\\s+`."""
    n = len(text)
    space = text[i] == " "
    if space and i + 1 < n:
        j = _word_end(text, i + 1)
        if j > i + 1:
            return j
    j = _word_end(text, i)
    if j > i:
        return j
    if space and i + 1 < n and text[i + 1] not in SPACE:
        return i + 2
    if text[i] not in SPACE:
        return i + 1
    k = i + 1  # a whitespace run that leaves its last space to the piece after it
    while k < n and text[k - 1] in SPACE:
        if text[k] == " " and k + 1 < n and text[k + 1] not in SPACE:
            return k
        k += 1
    return _run(text, i, SPACE.__contains__)


class WordTokenizer:
    """Words, single punctuation marks and whitespace runs (or " word" pieces with attach_spaces)."""

    kind = "word"

    def __init__(self, tokens, unk_id, lowercase=False, attach_spaces=False):
        self.tokens = list(tokens)
        self.unk_id = unk_id
        self.lowercase = lowercase
        self.attach_spaces = attach_spaces
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.unknown = self.tokens[unk_id]
        end = _attached_piece_end if attach_spaces else _piece_end
        # The unknown text is matched first where it is not itself one piece ("<unk>" in Penn Treebank).
        self.match_unknown = self.unknown != "" and end(self.unknown, 0) != len(self.unknown)
        self.end = end

    @property
    def vocab_size(self):
        return len(self.tokens)

    def pieces(self, text):
        out = []
        i, n, unknown = 0, len(text), self.unknown
        while i < n:
            if self.match_unknown and text.startswith(unknown, i):
                j = i + len(unknown)
            else:
                j = self.end(text, i)
            piece = text[i:j]
            if self.lowercase and piece != unknown:
                piece = piece.lower()
            out.append(piece)
            i = j
        return out

    def encode(self, text):
        get, unk = self.ids.get, self.unk_id
        return [get(p, unk) for p in self.pieces(text)]

    def decode(self, ids):
        # With attached spaces the unknown word keeps a space before it after the first piece, as
        # the library's WordTokenizer decodes it.
        return "".join(
            " " + self.tokens[i] if self.attach_spaces and i == self.unk_id and k > 0 else self.tokens[i]
            for k, i in enumerate(ids)
        )


def _letter(c):
    return _category(c) == "L"


def _number(c):
    return _category(c) == "N"


def _other(c):
    return c not in SPACE and _category(c) not in "LN"


_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _gpt2_chunk_end(text, i):
    """GPT-2's pre-tokenizer: 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+|[^]."""
    n = len(text)
    for c in _CONTRACTIONS:
        if text.startswith(c, i):
            return i + len(c)
    start = i + 1 if text[i] == " " and i + 1 < n else i
    for kind in (_letter, _number, _other):
        if kind(text[start]):
            return _run(text, start, kind)
        if start > i and kind(text[i]):
            return _run(text, i, kind)
    if text[i] in SPACE:
        j = _run(text, i, SPACE.__contains__)
        return j if j == n or j - i == 1 else j - 1
    return i + 1


class BpeTokenizer:
    """Byte-level BPE: ids 0..255 are the bytes, id 256 + i is merges[i] = [a, b]."""

    kind = "bpe"
    unk_id = None

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.bytes = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.bytes.append(self.bytes[a] + self.bytes[b])
        self.cache = {}

    @property
    def vocab_size(self):
        return len(self.bytes)

    def _merge(self, chunk):
        """The chunk's UTF-8 bytes with the merges applied in the order they were learnt."""
        syms = list(chunk.encode("utf-8", "surrogatepass"))
        ranks = self.ranks
        while len(syms) > 1:
            best = min((ranks.get(p, len(ranks)) for p in zip(syms, syms[1:])), default=len(ranks))
            if best == len(ranks):
                break
            a, b = self.merges[best]
            z, out, k = 256 + best, [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(z)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            syms = out
        return syms

    def encode(self, text):
        ids, i, n = [], 0, len(text)
        while i < n:
            j = _gpt2_chunk_end(text, i)
            chunk = text[i:j]
            if chunk not in self.cache:
                self.cache[chunk] = self._merge(chunk)
            ids.extend(self.cache[chunk])
            i = j
        return ids

    def decode(self, ids):
        return b"".join(self.bytes[i] for i in ids).decode("utf-8", "replace")


def from_json(o):
    """A tokenizer from the parsed JSON of unroll's `tokenizer.toJSON()`, format and version checked."""
    if not isinstance(o, dict) or o.get("format") != TOKENIZER_FORMAT:
        raise ValueError(f"not an unroll tokenizer (format {o.get('format') if isinstance(o, dict) else o!r})")
    if o.get("version") != TOKENIZER_VERSION:
        raise ValueError(f"tokenizer version {o.get('version')!r}; this file reads version {TOKENIZER_VERSION}")
    kind = o.get("kind")
    if kind == "char":
        return CharTokenizer(o["tokens"], o["unkId"])
    if kind == "word":
        return WordTokenizer(o["tokens"], o["unkId"], o["lowercase"], o.get("attachSpaces", False))
    if kind == "bpe":
        if o.get("pretokenizer") != "gpt2":
            raise ValueError(f"unknown BPE pretokenizer {o.get('pretokenizer')!r}")
        return BpeTokenizer(o["merges"])
    raise ValueError(f"unknown tokenizer kind {kind!r}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return from_json(json.load(f))
