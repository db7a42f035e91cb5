// consumer.c in C++ (C++11): the same steps and the same output, with the library's objects
// owned by std::unique_ptr. Built against an installed mod.h by tests/test_install.sh.
// usage: consumer_cxx MODEL [PROMPT [N]]      (defaults: "And God", 8)
#define MOD_IMPLEMENTATION
#include <mod.h>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {
struct model_free {
    void operator()(mod_model *m) const { mod_model_free(m); }
};
struct session_free {
    void operator()(mod_session *s) const { mod_session_free(s); }
};
typedef std::unique_ptr<mod_model, model_free> model_ptr;
typedef std::unique_ptr<mod_session, session_free> session_ptr;
} // namespace

int main(int argc, char **argv) {
    const std::string prompt = argc > 2 ? argv[2] : "And God";
    const int n = argc > 3 ? std::atoi(argv[3]) : 8;
    if (argc < 2 || argc > 4 || n < 1 || n > 1000) {
        std::cerr << "usage: consumer_cxx MODEL [PROMPT [N]]   (N from 1 to 1000)\n";
        return 2;
    }
    mod_error err;
    mod_model *raw_model = nullptr;
    if (mod_model_load_file(&raw_model, argv[1], nullptr, &err) != MOD_OK) {
        std::cerr << "consumer_cxx: " << err.message << '\n';
        return 1;
    }
    model_ptr model(raw_model);

    std::vector<int32_t> tokens(prompt.size() + 2);
    int count = 0;
    mod_result r = mod_tokenize(model.get(), prompt.data(), prompt.size(), mod_token_bos(model.get()) >= 0,
                                tokens.data(), static_cast<int>(tokens.size()), &count, nullptr);
    if (r != MOD_OK) {
        std::cerr << "consumer_cxx: cannot tokenize: " << mod_result_string(r) << '\n';
        return 1;
    }

    mod_session_desc desc = {}; // zero means "default" for every field
    desc.max_tokens = count + n;
    mod_session *raw_session = nullptr;
    mod_error session_err;
    r = mod_session_create(&raw_session, model.get(), &desc, &session_err);
    if (r != MOD_OK) {
        std::cerr << "consumer_cxx: no session: " << session_err.message << '\n';
        return 1;
    }
    session_ptr session(raw_session);

    r = mod_prefill(session.get(), tokens.data(), count, nullptr);
    mod_sampler sampler;
    mod_sampler_desc sampler_desc = {}; // all zero: greedy
    if (r == MOD_OK) r = mod_sampler_init(&sampler, &sampler_desc);
    std::vector<int32_t> ids;
    while (r == MOD_OK && static_cast<int>(ids.size()) < n) {
        int32_t id = 0;
        r = mod_sample(session.get(), &sampler, &id);
        if (r != MOD_OK) break;
        ids.push_back(id);
        if (static_cast<int>(ids.size()) < n) r = mod_decode(session.get(), id);
    }
    if (r != MOD_OK) {
        std::cerr << "consumer_cxx: " << mod_session_error(session.get()) << '\n';
        return 1;
    }

    std::string text = prompt;
    for (int32_t id : ids) {
        size_t len = 0;
        const char *piece = mod_token_bytes(model.get(), id, &len);
        if (piece) text.append(piece, len);
    }
    std::cout << "mod.h " << mod_version() << " (header " << MOD_VERSION_STRING << "), C++"
#ifdef _OPENMP
              << ", OpenMP"
#endif
              << "\nprompt: " << count << " tokens\nids:";
    for (int32_t id : ids) std::cout << ' ' << id;
    std::cout << "\ntext: " << text << '\n';
    return 0;
}
