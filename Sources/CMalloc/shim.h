// glibc's allocator statistics and trim (malloc.h), which Swift's Glibc module leaves out.
#ifdef __linux__
#include <malloc.h>
#endif
