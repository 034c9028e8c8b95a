/* The build's identity, from build/common/build_info_generated.h (written by common/build_info.sh
 * only when the version or revision changes, so only this file recompiles). */
#include "common/build_info.h"

#include "common/build_info_generated.h"

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown"
#endif

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#else
#define ARCH "unknown"
#endif

static const struct build_info info = {
	.version = PCMC_VERSION,
	.revision = PCMC_REVISION,
	.compiler = COMPILER,
	.arch = ARCH,
};

const struct build_info *build_info(void)
{
	return &info;
}
