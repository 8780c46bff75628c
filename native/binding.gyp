{
  "targets": [
    {
      "target_name": "metaprune_native",
      "sources": ["src/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["/usr/include/openblas"],
      "cflags_c": ["-O3", "-std=c11", "-ffp-contract=off", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "libraries": ["-lopenblas"]
    }
  ]
}
