// OpenMP threads that sleep instead of spin: datapool-server runs with
// OMP_WAIT_POLICY=PASSIVE unless the environment already says how
// libgomp's threads should wait (OMP_WAIT_POLICY or GOMP_SPINCOUNT).
//
// Why: libtorch's intra-op threads are libgomp's. Idle, each spins for
// GOMP_SPINCOUNT (300,000 pauses, ~8 ms on Intel Xeons) before it sleeps,
// after every forward pass and whenever a partner is descheduled at a
// barrier. The decode threads of the same request want those cores
// (EmbeddingPipeline): on 2 cores spinning cost what bench/images_bench.py
// row (2s) shows against (2).
//
// How: libgomp reads the variables once, in its own constructor, which
// runs before main (setenv there is too late). The executable's
// .preinit_array runs before every shared library's constructor, so this
// function re-executes the binary (/proc/self/exe, same pid, same argv)
// with the variable added. That costs the dynamic loading once more
// (~30 ms) and none of libtorch's static start-up, which has not run yet.
// When the exec fails (no /proc), the server runs on with libgomp's
// default. Only the datapool-server executable links this file.
#include <unistd.h>

#include <cstring>

namespace {

bool HasVariable(char** envp, const char* prefix) {
  const size_t n = std::strlen(prefix);
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, prefix, n) == 0) return true;
  }
  return false;
}

// Runs before libc and every other library are initialised: no allocation
// and no stdio here, only the stack and system calls.
void PassiveOpenMpOrReexec(int /*argc*/, char** argv, char** envp) {
  if (argv == nullptr || argv[0] == nullptr || envp == nullptr ||
      HasVariable(envp, "OMP_WAIT_POLICY=") ||
      HasVariable(envp, "GOMP_SPINCOUNT=")) {
    return;
  }
  // Static: no heap yet, and the process is single-threaded here.
  static char* env[4096];
  static char passive[] = "OMP_WAIT_POLICY=PASSIVE";
  size_t count = 0;
  for (; envp[count] != nullptr; ++count) {
    if (count + 2 >= sizeof(env) / sizeof(env[0])) return;
    env[count] = envp[count];
  }
  env[count] = passive;
  env[count + 1] = nullptr;
  ::execve("/proc/self/exe", argv, env);
  // Still here: the exec failed; run as we are.
}

}  // namespace

// NOLINTNEXTLINE: the ELF section is the point.
__attribute__((section(".preinit_array"),
               used)) static void (*const kPassiveOpenMp)(int, char**, char**) =
    PassiveOpenMpOrReexec;
