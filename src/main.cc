// drover's command line (SPEC §2, man/drover.8): parses argv, then tests the
// config (-t/-T), signals a running master (-s), or becomes the master.
#include <event2/event.h>
#include <getopt.h>
#include <openssl/crypto.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/small_alloc.h"
#include "master/master.h"
#include "tls/tls.h"
#include "worker/privileges.h"

namespace {

void Usage(FILE* out) {
  fprintf(out,
          "usage: drover [-c FILE] [-p PREFIX] [-F] [-t | -T] [-q] [-s SIGNAL] [-v | -V] [-h]\n"
          "  -c FILE    configuration file (default %s)\n"
          "  -p PREFIX  prefix for relative paths (default: the config directory's parent)\n"
          "  -F         stay in the foreground\n"
          "  -t         test the configuration and exit\n"
          "  -T         test the configuration, print the effective configuration and exit\n"
          "  -q         with -t: print only errors\n"
          "  -s SIGNAL  send reload, reopen, quit or stop to the running master\n"
          "  -v         print the version\n"
          "  -V         print the version, build options and library versions\n"
          "  -h         this help\n",
          DROVER_CONF_PATH);
}

std::string Pcre2Version() {
  char buf[64] = {0};
  pcre2_config(PCRE2_CONFIG_VERSION, buf);
  return buf;
}

// -t opens every file the config names, as the master will (logs are created).
bool OpenFiles(const drover::config::Config& c, const std::string& file) {
  struct Item {
    const char* directive;
    std::string path;
  };
  std::vector<Item> items;
  if (c.global.error_log != "stderr" && !c.global.error_log.empty()) {
    items.push_back({"ErrorLog", c.global.error_log});
  }
  if (!c.server.access_log.empty()) {
    items.push_back({"CustomLog", c.server.access_log});
  }
  if (geteuid() == 0) {
    auto id = drover::worker::ResolveIdentity(c.global.user, c.global.group);
    if (!id.ok()) {
      fprintf(stderr, "drover: %s: User/Group: %s\n", file.c_str(), id.status().message().c_str());
      return false;
    }
  }
  for (const auto& it : items) {
    int fd = open(it.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "drover: %s: %s: open(\"%s\") failed (%d: %s)\n", file.c_str(),
              it.directive, it.path.c_str(), errno, strerror(errno));
      return false;
    }
    close(fd);
  }
  for (const char* path : {c.server.ssl_certificate_file.c_str(),
                           c.server.ssl_certificate_key_file.c_str(),
                           c.server.ssl_proxy_ca_certificate_file.c_str()}) {
    if (path[0] != '\0' && access(path, R_OK) != 0) {
      fprintf(stderr, "drover: %s: cannot read \"%s\" (%d: %s)\n", file.c_str(), path, errno,
              strerror(errno));
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  drover::core::UseSmallAllocForLibevent();  // before any libevent call
  std::string file = DROVER_CONF_PATH;
  std::string prefix;
  std::string signal_name;
  bool foreground = false;
  bool test = false;
  bool dump = false;
  bool quiet = false;
  int version = 0;
  opterr = 0;
  int c;
  while ((c = getopt(argc, argv, ":c:p:FtTqs:vVh")) != -1) {
    switch (c) {
      case 'c': file = optarg; break;
      case 'p': prefix = optarg; break;
      case 'F': foreground = true; break;
      case 't': test = true; break;
      case 'T': test = true; dump = true; break;
      case 'q': quiet = true; break;
      case 's': signal_name = optarg; break;
      case 'v': version = version > 1 ? version : 1; break;
      case 'V': version = 2; break;
      case 'h': Usage(stdout); return 0;
      case ':':
        fprintf(stderr, "drover: option -%c requires an argument\n", optopt);
        Usage(stderr);
        return 1;
      default:
        fprintf(stderr, "drover: unknown option -%c\n", optopt);
        Usage(stderr);
        return 1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "drover: unexpected argument '%s'\n", argv[optind]);
    Usage(stderr);
    return 1;
  }
  if (version != 0) {
    printf("drover version %s\n", DROVER_VERSION);
    if (version == 2) {
      printf("built with: configure %s\n", DROVER_BUILD_OPTIONS);
      printf("default config: %s\n", DROVER_CONF_PATH);
      printf("libevent %s, %s, PCRE2 %s, compiler GCC %s\n", event_get_version(),
             OpenSSL_version(OPENSSL_VERSION), Pcre2Version().c_str(), __VERSION__);
    }
    return 0;
  }

  drover::config::LoadOptions load;
  load.file = file;
  load.prefix = prefix;
  auto cfg = drover::config::Load(load);
  if (!cfg.ok()) {
    fprintf(stderr, "drover: %s\n", cfg.status().message().c_str());
    if (test) {
      fprintf(stderr, "drover: configuration file %s test failed\n", file.c_str());
    }
    return 1;
  }
  if (test) {
    // Certificates, keys, CA files and cipher lists, with the line at fault.
    drover::core::Status tls = drover::tls::CheckConfig(**cfg);
    if (!tls.ok()) {
      fprintf(stderr, "drover: %s\n", tls.message().c_str());
      fprintf(stderr, "drover: configuration file %s test failed\n", file.c_str());
      return 1;
    }
    if (!OpenFiles(**cfg, file)) {
      fprintf(stderr, "drover: configuration file %s test failed\n", file.c_str());
      return 1;
    }
    if (!quiet) {
      printf("drover: configuration file %s test is successful\n", file.c_str());
    }
    if (dump) {
      fputs(drover::config::Dump(**cfg).c_str(), stdout);
    }
    return 0;
  }
  if (!signal_name.empty()) {
    return drover::master::SendSignal(**cfg, signal_name);
  }
  drover::master::MasterOptions options;
  options.load = load;
  options.foreground = foreground;
  return drover::master::RunMaster(*cfg, options);
}
