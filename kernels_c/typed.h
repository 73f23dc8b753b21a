/* For headers written once for a floating-point type T and included once per type, after
   "#define T float" or "#define T double": RNNLM_TYPED(name) is then name_float or name_double. */
#define RNNLM_TYPED(name) RNNLM_PASTE(name, T)
#define RNNLM_PASTE(name, type) RNNLM_PASTE_EXPANDED(name, type)     /* expands T before pasting */
#define RNNLM_PASTE_EXPANDED(name, type) name##_##type
