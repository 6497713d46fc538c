#include "worker/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/strings.h"

namespace drover::worker {

namespace {
std::string Errno(int e) { return "(" + std::to_string(e) + ": " + strerror(e) + ")"; }
}  // namespace

core::Result<Identity> ResolveIdentity(const std::string& user, const std::string& group) {
  Identity id;
  id.user = user;
  if (!user.empty() && user[0] == '#') {
    auto v = core::ParseInt(std::string_view(user).substr(1), 0, 0x7fffffff);
    if (!v) {
      return core::Status::Error("invalid User '" + user + "'");
    }
    id.uid = static_cast<uid_t>(*v);
    struct passwd* pw = getpwuid(id.uid);
    id.user = pw != nullptr ? pw->pw_name : "";
  } else {
    struct passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) {
      return core::Status::Error("getpwnam(\"" + user + "\") failed: no such user");
    }
    id.uid = pw->pw_uid;
  }
  if (!group.empty() && group[0] == '#') {
    auto v = core::ParseInt(std::string_view(group).substr(1), 0, 0x7fffffff);
    if (!v) {
      return core::Status::Error("invalid Group '" + group + "'");
    }
    id.gid = static_cast<gid_t>(*v);
  } else {
    struct group* gr = getgrnam(group.c_str());
    if (gr == nullptr) {
      return core::Status::Error("getgrnam(\"" + group + "\") failed: no such group");
    }
    id.gid = gr->gr_gid;
  }
  return id;
}

core::Status DropPrivileges(const std::string& user, const std::string& group) {
  if (geteuid() != 0) {
    DLOG(kNotice, "not running as root: workers keep uid %d (User/Group ignored)",
         static_cast<int>(geteuid()));
    return core::Status::Ok();
  }
  auto id = ResolveIdentity(user, group);
  if (!id.ok()) {
    return id.status();
  }
  if (setgid(id->gid) != 0) {
    return core::Status::Error("setgid(" + std::to_string(id->gid) + ") failed " + Errno(errno));
  }
  if (!id->user.empty() && initgroups(id->user.c_str(), id->gid) != 0) {
    return core::Status::Error("initgroups(\"" + id->user + "\", " + std::to_string(id->gid) +
                               ") failed " + Errno(errno));
  }
  if (setuid(id->uid) != 0) {
    return core::Status::Error("setuid(" + std::to_string(id->uid) + ") failed " + Errno(errno));
  }
  return core::Status::Ok();
}

void RaiseFileLimit(uint64_t want, uint64_t need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
    return;
  }
  struct rlimit up = rl;
  up.rlim_cur = want;
  if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
    if (geteuid() == 0) {
      up.rlim_max = want;
    } else {
      up.rlim_cur = rl.rlim_max;
    }
  }
  if (setrlimit(RLIMIT_NOFILE, &up) != 0 && up.rlim_max != rl.rlim_max) {
    // Root without CAP_SYS_RESOURCE (a container, say): as far as the hard limit.
    up = rl;
    up.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &up);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    DLOG(kWarn, "open-file limit %llu is below the %llu that WorkerConnections needs",
         static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(need));
  }
}

}  // namespace drover::worker
