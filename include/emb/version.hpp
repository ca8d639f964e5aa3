#pragma once
// The one place the version lives; CMakeLists.txt reads these three lines.

#define EMB_VERSION_MAJOR 0
#define EMB_VERSION_MINOR 1
#define EMB_VERSION_PATCH 0

namespace emb {
inline constexpr int version_major = EMB_VERSION_MAJOR;
inline constexpr int version_minor = EMB_VERSION_MINOR;
inline constexpr int version_patch = EMB_VERSION_PATCH;
}  // namespace emb
