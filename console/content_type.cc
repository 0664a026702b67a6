#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "console/web_files.h"

namespace mir::console {

absl::string_view ContentTypeFor(absl::string_view path) {
  struct Type {
    absl::string_view extension, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  for (const Type& t : kTypes) {
    if (absl::EndsWithIgnoreCase(path, t.extension)) return t.type;
  }
  return "application/octet-stream";
}

}  // namespace mir::console
