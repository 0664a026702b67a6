#ifndef MIR_CONSOLE_WEB_FILES_H_
#define MIR_CONSOLE_WEB_FILES_H_

// The page's files (console/web/, written by the page's authors), embedded
// into mir-console at build time by console/CMakeLists.txt, so that the
// package needs no folder of its own.

#include <vector>

#include "absl/strings/string_view.h"

namespace mir::console {

struct WebFile {
  absl::string_view path;  // relative to console/web/, e.g. "index.html", "js/app.js"
  absl::string_view content;
};

// Every file, in path order. Generated (web_files.cc in the build tree).
const std::vector<WebFile>& EmbeddedWebFiles();

// The public form's files (console/public/), for its own listener only.
// Generated (public_files.cc).
const std::vector<WebFile>& EmbeddedPublicFiles();

// The Content-Type for a file name, by extension ("application/octet-stream"
// when unknown).
absl::string_view ContentTypeFor(absl::string_view path);

}  // namespace mir::console

#endif  // MIR_CONSOLE_WEB_FILES_H_
