// Dropping root in a freshly forked worker: rlimits, setgid, initgroups, setuid
// (nginx's and Apache's order). Pure POSIX; no libevent.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"

namespace drover::worker {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;
};

// Resolves "name" or "#id" for User and Group.
core::Result<Identity> ResolveIdentity(const std::string& user, const std::string& group);
// When running as root: setgid, initgroups, setuid; otherwise a notice and no change.
core::Status DropPrivileges(const std::string& user, const std::string& group);
// Raises RLIMIT_NOFILE towards `want`: past the hard limit when running as root and
// allowed to, else up to the hard limit. Logs at warn when the limit stays below
// `need`.
void RaiseFileLimit(uint64_t want, uint64_t need);

}  // namespace drover::worker
