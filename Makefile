# mod.h: programs, tests and the default model.
#   make            build every program into build/
#   make run        generate text from the default model
#   make test       build and run the whole test suite
#   make test-firmware  cross-build the Cortex-M images and run them in QEMU
#   make install    the header, its pkg-config and CMake files, the programs (docs/INSTALL.md)
CC      ?= cc
OPT     ?= -O2
# SIMD paths are chosen at compile time; ARCH= builds the portable code only.
ARCH    ?= -march=native
OPENMP  ?= -fopenmp
WARN    := -std=c99 -Wall -Wextra -pedantic
CFLAGS  ?=
LDLIBS  := -lm
B       := build

PROGRAMS := $(B)/mod-generate $(B)/mod-eval $(B)/minimal $(B)/mkmodel $(B)/mod2c $(B)/mod-convert $(B)/mod-bench \
            $(B)/mod-tokbench $(B)/mod-tokenize $(B)/mod-sweep $(B)/mod-plot
TESTS    := $(B)/test_kernels $(B)/test_model $(B)/test_load $(B)/test_tokenizer $(B)/test_ref_selfcheck \
            $(B)/check_logits $(B)/compare_logits $(B)/check_tokens \
            $(B)/test_convert_hf $(B)/test_convert_llama2c $(B)/test_convert_modfile $(B)/test_convert_errors \
            $(B)/test_convert_families $(B)/test_convert_gguf \
            $(B)/test_tokenizer_queue $(B)/test_tokenizer_nomalloc $(B)/test_format $(B)/split_pieces $(B)/hf_ckpt \
            $(B)/test_ggml_dequant $(B)/test_chat $(B)/test_nfc $(B)/test_svg $(B)/test_no_unicode $(B)/routing_oracle \
            $(B)/test_amx $(B)/test_amx_pairwise $(B)/test_amx_emu
HEADERS  := mod.h examples/cli.h examples/routeview.h
# the model-file writer: tools/modfile.h, and mkmodel.h on top of it
WRITER   := tools/mkmodel.h tools/modfile.h

# The shipped MoD model (models/README.md); RUN_MODEL=... runs another.
RUN_MODEL  ?= models/kjv-mod.mod
RUN_PROMPT ?= And God said,

.PHONY: all test run clean install uninstall FORCE check-header test-sanitize fuzz fuzz-smoke firmware test-firmware firmware-size
all: $(PROGRAMS) $(TESTS)

$(B):
	mkdir -p $(B)

$(B)/mod-generate: examples/generate.c $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/minimal: examples/minimal.c mod.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod-eval: tools/eval.c tools/ppl.h tools/svg.h tools/routemap.h $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod-sweep: tools/sweep.c tools/ppl.h tools/svg.h $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -o $@ $< $(LDLIBS)
# mod-bench links OpenBLAS for a side-by-side sgemm figure when the library is installed.
BENCH_BLAS := $(shell printf '\043include <cblas.h>\nint main(void){openblas_set_num_threads(1);return 0;}\n' | $(CC) -x c - -o /dev/null -lopenblas 2>/dev/null && echo -DMOD_BENCH_OPENBLAS -lopenblas)
$(B)/mod-bench: tools/bench.c $(HEADERS) $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -Itools -o $@ $< $(BENCH_BLAS) $(LDLIBS)
$(B)/mod-tokbench: tools/tokbench.c $(HEADERS) $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -Itools -o $@ $< $(LDLIBS)
$(B)/mkmodel: tools/mkmodel.c $(WRITER) tools/gguf_write.h mod.h examples/cli.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod-tokenize: tools/tokenize.c $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod-plot: tools/plot.c tools/svg.h $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod2c: tools/mod2c.c $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/mod-convert: tools/convert.c tools/json.h tools/modfile.h tools/gguf.h tools/ggml_dequant.h $(HEADERS) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)

# Tests build with OpenMP so the multi-threaded paths are exercised against the serial ones.
$(B)/test_%: tests/test_%.c mod.h tests/*.h $(WRITER) tools/ggml_dequant.h tools/gguf_write.h tools/svg.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -Itools -Itests -o $@ $< $(LDLIBS)

$(B)/test_ggml_dequant: tools/ggml_dequant.h

# The AMX test once more, its emulator adding each tile product's pairs in two partial sums
# (the other order the manuals describe): products to the rounding bound instead of the bit.
$(B)/test_amx_pairwise: tests/test_amx.c mod.h tests/*.h $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(OPENMP) $(CFLAGS) -DAMX_EMU_BF16_PAIRWISE=1 -Itools -Itests -o $@ $< $(LDLIBS)

# The tokenizer tests twice more: every piece through the priority queue, and every piece
# merged in place as without an allocator (MOD_NO_MALLOC, the firmware configuration).
$(B)/test_tokenizer_queue: tests/test_tokenizer.c mod.h tests/*.h $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -DMOD__TOK_QUEUE_MIN=1 -Itools -Itests -o $@ $< $(LDLIBS)
$(B)/test_tokenizer_nomalloc: tests/test_tokenizer.c mod.h tests/*.h $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -DMOD_NO_MALLOC -Itools -Itests -o $@ $< $(LDLIBS)

# The pretokenizers' pieces for tests/split_oracle.js (tests/test_split_oracle.sh).
$(B)/split_pieces: tests/split_pieces.c mod.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
# the checkpoint writer of tests/test_hf_tokenizers.sh
$(B)/hf_ckpt: tests/hf_ckpt.c mod.h tests/*.h $(WRITER) | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -Itools -Itests -o $@ $< $(LDLIBS)
# what tests/test_routing_view.sh checks the programs' routing views against
$(B)/routing_oracle: tests/routing_oracle.c mod.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/check_tokens: tests/check_tokens.c tests/check.h mod.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/compare_logits: tests/compare_logits.c | $(B)
	$(CC) $(WARN) $(OPT) $(CFLAGS) -o $@ $< $(LDLIBS)
$(B)/check_logits: tests/check_logits.c tests/ref.h | $(B)
	$(CC) $(WARN) $(OPT) $(ARCH) $(CFLAGS) -o $@ $< $(LDLIBS)

run: $(B)/mod-generate
	$(B)/mod-generate $(RUN_MODEL) -p "$(RUN_PROMPT)" -n 512

# The isoFLOP study of docs/STUDY.md (about 90 minutes on 2 shared cores; not part of `make
# test`): the corpus and tokenizer of `make models` (built when missing), then dense and MoD
# variants trained to equal training FLOPs at three budgets, converted, evaluated and timed;
# results in $(B)/study/, the table in $(B)/study/table.md, the plots in docs/img/study-*.svg.
.PHONY: study
study: $(B)/mod-convert $(B)/mod-eval $(B)/mod-generate $(B)/mod-plot
	test -f $(B)/train/data/val.jsonl || /usr/bin/python3 tools/train/corpus.py --out $(B)/train/data --heldout $(B)/train/heldout.txt
	test -f $(B)/train/tokenizer.json || /usr/bin/python3 tools/train/tokenizer.py --train $(B)/train/data/train.jsonl --vocab 4096 -o $(B)/train/tokenizer.json
	/usr/bin/python3 tools/train/study.py all --out $(B)/study --bin $(B) --tokenizer $(B)/train/tokenizer.json --data $(B)/train/data --img docs/img

# The README's pictures (docs/img): the routing map of two held-out verses (Genesis 20:1-2,
# models/heldout.txt) and the quality/speed curve of the shipped pair on the held-out text,
# measured on this machine (so the speeds differ from run to run).
.PHONY: pictures
pictures: $(B)/mod-eval $(B)/mod-sweep
	mkdir -p $(B)/pictures docs/img
	sed -n '2,3p' models/heldout.txt >$(B)/pictures/verses.txt
	$(B)/mod-eval models/kjv-mod.mod --text $(B)/pictures/verses.txt --routing-map docs/img/routing-map.svg
	$(B)/mod-sweep models/kjv-mod.mod --text models/heldout.txt --dense models/kjv-dense.mod --repeat 9 --threads 1 \
	    --plot docs/img/sweep.svg

# The shipped models, rebuilt from scratch (needs Debian's bible-kjv, bible-kjv-text and
# python3-torch; libopenblas0-pthread makes torch's matrix products several times faster):
# corpus and held-out split, tokenizer, the MoD model and its dense twin trained side by side
# on one thread each (about 75 minutes on 2 cores), their metrics, conversion to model files.
# See models/README.md.
TRAIN = /usr/bin/python3 tools/train/train.py --seed 1234 --seq 512 --batch 8 --short-seq 128 --threads 1 \
	--tokenizer $(B)/train/tokenizer.json --data $(B)/train/data
.PHONY: models
models: $(B)/mod-convert
	/usr/bin/python3 tools/train/corpus.py --out $(B)/train/data --heldout models/heldout.txt
	/usr/bin/python3 tools/train/tokenizer.py --train $(B)/train/data/train.jsonl --vocab 4096 -o $(B)/train/tokenizer.json
	$(TRAIN) --mod --decision predictor --steps 1150 --short-steps 1050 --out $(B)/train/mod 2>$(B)/train/mod.stderr & p=$$!; \
	$(TRAIN) --dense --steps 900 --short-steps 800 --out $(B)/train/dense 2>$(B)/train/dense.stderr; d=$$?; \
	wait $$p && test $$d = 0
	/usr/bin/python3 tools/train/evaluate.py --mod $(B)/train/mod --dense $(B)/train/dense --data $(B)/train/data -o models/metrics.json
	$(B)/mod-convert $(B)/train/mod -o models/kjv-mod.mod --dtype f16 --force
	$(B)/mod-convert $(B)/train/dense -o models/kjv-dense.mod --dtype f16 --force
	$(B)/mod-convert $(B)/train/mod -o models/kjv-mod-q8_0.mod --dtype q8_0 --force
	/usr/bin/python3 tools/train/expected.py -i models/metrics.json -o models/expected.txt

# models/README.md from tools/train/models_readme.in.md, models/metrics.json (written by `make
# models`) and models/measurements.json (figures measured by hand, each with its command).
.PHONY: models-readme
models-readme:
	/usr/bin/python3 tools/train/models_readme.py

# The header alone (C99 with gcc and clang, MOD_NO_STDIO + MOD_NO_MALLOC, OpenMP, C++, the SIMD
# targets), the examples and the README's API example as C99 and C++17, all with -Werror.
# make test runs the same script.
check-header: | $(B)
	sh tests/test_build.sh $(B)

test: all
	sh tests/run.sh $(B)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, then the programs under
# valgrind memcheck (no errors, no leaks).
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g
test-sanitize:
	$(MAKE) B=build/asan OPT="-O1" OPENMP= CFLAGS="$(SANFLAGS)" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 sh tests/run.sh build/asan
	# valgrind 3.19 cannot decode AVX-512: memcheck runs an AVX2 build
	$(MAKE) B=build/vg ARCH=-march=x86-64-v3 $(PROGRAMS:$(B)/%=build/vg/%)
	sh tests/valgrind.sh build/vg

# libFuzzer harnesses (clang). `make fuzz` runs each for FUZZ_SECONDS (default 900) over a
# scratch copy of its committed seed corpus; `make fuzz-smoke` runs each for 30 s.
FUZZERS := $(B)/fuzz/fuzz_model $(B)/fuzz/fuzz_tokenizer $(B)/fuzz/fuzz_cli $(B)/fuzz/fuzz_convert $(B)/fuzz/fuzz_gguf $(B)/fuzz/fuzz_chat
FUZZ_SECONDS ?= 900
$(B)/fuzz/%: tests/fuzz/%.c mod.h $(WRITER) examples/generate.c examples/cli.h tools/convert.c tools/json.h tools/gguf.h tools/ggml_dequant.h tests/fuzz/converted.h
	mkdir -p $(B)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Itools -o $@ $< -lm
fuzz: $(FUZZERS)
	sh tests/fuzz/run.sh $(B) $(FUZZ_SECONDS)
fuzz-smoke: $(FUZZERS)
	sh tests/fuzz/run.sh $(B) 30

# ---- firmware: mod.h on Cortex-M with no OS and no malloc, the model in flash, under QEMU ----
# Needs Debian's gcc-arm-none-eabi, picolibc-arm-none-eabi and qemu-system-arm.
#   make firmware        the images: build/firmware/gen-m4.elf (mps2-an386, Cortex-M4F),
#                        gen-m55.elf (mps3-an547, Cortex-M55 + Helium), mve_dot-m55.elf
#   make test-firmware   run them in QEMU (plus checks of the library object and mod2c)
#   make firmware-size   footprint of the library object and of the images
FW       := $(B)/firmware
FW_SRC   := examples/firmware
ARM_CC   ?= arm-none-eabi-gcc
FW_CPU_m4  := -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
FW_CPU_m55 := -mcpu=cortex-m55 -mfloat-abi=hard
FW_BOARD_m4  := mps2-an386 (Cortex-M4F)
FW_BOARD_m55 := mps3-an547 (Cortex-M55)
FW_LD_m4   := mps2-an386.ld
FW_LD_m55  := mps3-an547.ld
# -ffp-contract=off: no fused multiply-adds the C source does not ask for, as on the host.
FW_CFLAGS  := -std=c99 -Wall -Wextra -pedantic -Werror -O2 -ffp-contract=off \
              -ffunction-sections -fdata-sections -g
FW_SPECS   := --specs=picolibc.specs
FW_LDFLAGS := --oslib=semihost --crt0=semihost -L$(FW_SRC)
FW_LDS     := $(FW_SRC)/firmware.ld $(FW_SRC)/mps2-an386.ld $(FW_SRC)/mps3-an547.ld
# ~231k parameters, byte-level BPE tokenizer, routed (MoD) blocks 1 and 3 of 4
FW_MODEL_OPTS := --seed 7 --tokenizer bpe --merges 200 --dim 64 --layers 4 --heads 4 --kv-heads 2 \
                 --hidden 160 --seq 128 --mod-layers odd --capacity 0.5
FW_IMAGES := $(FW)/gen-m4.elf $(FW)/gen-m55.elf $(FW)/mve_dot-m55.elf
FW_OBJS   := $(FW)/main-m4.o $(FW)/main-m55.o $(FW)/mod_impl-m4.o $(FW)/mod_impl-m55.o
.SECONDARY: $(FW_OBJS)

$(FW):
	mkdir -p $(FW)
$(FW)/model.mod: $(B)/mkmodel | $(FW)
	$(B)/mkmodel $@ $(FW_MODEL_OPTS)
$(FW)/model.h: $(FW)/model.mod $(B)/mod2c
	$(B)/mod2c $< fw_model --section .model -o $@
# The expected tokens: the same generation code (gen.h) and model bytes, on the host. Built
# without $(CFLAGS) on purpose: flags such as -ffast-math would change the arithmetic.
$(FW)/host_expect: $(FW_SRC)/host_expect.c $(FW_SRC)/gen.h $(FW)/model.h mod.h
	$(CC) $(WARN) -O2 -ffp-contract=off -I$(FW) -o $@ $< $(LDLIBS)
$(FW)/expect.h: $(FW)/host_expect
	$< > $@.tmp && mv $@.tmp $@

$(FW)/mod_impl-%.o: $(FW_SRC)/mod_impl.c mod.h | $(FW)
	$(ARM_CC) $(FW_CPU_$*) $(FW_SPECS) $(FW_CFLAGS) -c -o $@ $<
$(FW)/main-%.o: $(FW_SRC)/main.c $(FW_SRC)/gen.h $(FW_SRC)/board.h $(FW)/model.h $(FW)/expect.h mod.h
	$(ARM_CC) $(FW_CPU_$*) $(FW_SPECS) $(FW_CFLAGS) -I$(FW) -DFW_BOARD='"$(FW_BOARD_$*)"' -c -o $@ $<
$(FW)/gen-%.elf: $(FW)/main-%.o $(FW)/mod_impl-%.o $(FW_LDS)
	$(ARM_CC) $(FW_CPU_$*) $(FW_SPECS) $(FW_LDFLAGS) -T $(FW_LD_$*) -Wl,-Map=$(FW)/gen-$*.map -o $@ \
	    $(FW)/main-$*.o $(FW)/mod_impl-$*.o -lm
$(FW)/mve_dot-m55.elf: $(FW_SRC)/test_mve_dot.c $(FW_SRC)/mve_dot.h $(FW_SRC)/board.h mod.h $(FW_LDS) | $(FW)
	$(ARM_CC) $(FW_CPU_m55) $(FW_SPECS) $(FW_CFLAGS) $(FW_LDFLAGS) -T $(FW_LD_m55) -o $@ $< -lm

firmware: $(FW_IMAGES) $(FW_OBJS)
test-firmware: firmware $(B)/mkmodel $(B)/mod2c
	sh $(FW_SRC)/run-tests.sh $(B)
firmware-size: firmware
	arm-none-eabi-size $(FW)/mod_impl-m4.o $(FW)/mod_impl-m55.o $(FW_IMAGES)
	awk -f $(FW_SRC)/mapsize.awk $(FW)/gen-m4.map
	awk -f $(FW_SRC)/mapsize.awk $(FW)/gen-m55.map

# ---- install: the header with its pkg-config and CMake package files, and the programs ----
#   make install PREFIX=/usr/local     builds the programs first; DESTDIR=... stages the tree
#   make uninstall PREFIX=/usr/local   removes exactly what install put there
# GNU layout under PREFIX; each directory can be set on its own (absolute paths). The programs
# are built with ARCH and OPENMP as above: ARCH= for binaries that run on any CPU of the family.
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
INCLUDEDIR   ?= $(PREFIX)/include
LIBDIR       ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/modh
INSTALL      ?= install
INSTALL_BIN  := mod-generate mod-eval mod-convert mod-bench mod2c mod-tokenize mod-sweep
# modh.pc, modhConfig.cmake and modhConfigVersion.cmake, written at every install from
# tools/install/*.in: the version is mod.h's MOD_VERSION_STRING, so it cannot drift from the
# header; the pkg-config file names PREFIX; the CMake package finds the header relative to its
# own directory, so a staged or moved tree still works.
INSTALL_GEN  := $(B)/modh.pc $(B)/modhConfig.cmake $(B)/modhConfigVersion.cmake
MOD_VERSION   = $(shell sed -n 's/^.define MOD_VERSION_STRING "\([0-9][^"]*\)".*/\1/p' mod.h)
INSTALLED     = $(INSTALL_BIN:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(INCLUDEDIR)/mod.h \
                $(DESTDIR)$(PKGCONFIGDIR)/modh.pc $(DESTDIR)$(CMAKEDIR)/modhConfig.cmake \
                $(DESTDIR)$(CMAKEDIR)/modhConfigVersion.cmake

$(INSTALL_GEN): $(B)/%: tools/install/%.in tools/install/relpath.awk mod.h FORCE | $(B)
	$(if $(MOD_VERSION),,$(error mod.h: no MOD_VERSION_STRING "x.y.z" found))
	$(if $(filter /%,$(INCLUDEDIR)),,$(error INCLUDEDIR must be an absolute path, not "$(INCLUDEDIR)"))
	$(if $(filter /%,$(CMAKEDIR)),,$(error CMAKEDIR must be an absolute path, not "$(CMAKEDIR)"))
	sed -e 's|@VERSION@|$(MOD_VERSION)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@PC_INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e "s|@CMAKE_INCLUDEDIR@|$$(awk -f tools/install/relpath.awk '$(CMAKEDIR)' '$(INCLUDEDIR)')|g" \
	    $< >$@.tmp
	mv $@.tmp $@
FORCE:

install: $(INSTALL_BIN:%=$(B)/%) $(INSTALL_GEN)
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" "$(DESTDIR)$(CMAKEDIR)"
	$(INSTALL) -m 0755 $(INSTALL_BIN:%=$(B)/%) "$(DESTDIR)$(BINDIR)"
	$(INSTALL) -m 0644 mod.h "$(DESTDIR)$(INCLUDEDIR)"
	$(INSTALL) -m 0644 $(B)/modh.pc "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 0644 $(B)/modhConfig.cmake $(B)/modhConfigVersion.cmake "$(DESTDIR)$(CMAKEDIR)"

# The standard directories (bin, include, lib/pkgconfig) may hold other packages' files and
# stay; the package's own lib/cmake/modh goes when it is empty.
uninstall:
	rm -f $(INSTALLED)
	rmdir "$(DESTDIR)$(CMAKEDIR)" 2>/dev/null || true

clean:
	rm -rf $(B)
