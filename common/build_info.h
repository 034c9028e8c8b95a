/* What this binary is: its version (the VERSION file), the source revision it was built from, the
 * compiler and the architecture. For --version and the <program>_build_info metric. */
#ifndef PCMC_COMMON_BUILD_INFO_H
#define PCMC_COMMON_BUILD_INFO_H

struct build_info {
	const char *version;  /* "0.1.0" */
	const char *revision; /* git commit, 12 hex digits, "-dirty" when built from changed files; or "unknown" */
	const char *compiler; /* "gcc 12.2.0" */
	const char *arch;     /* "x86_64", "aarch64" */
};

const struct build_info *build_info(void);

#endif
