{
  "targets": [
    {
      "target_name": "metaprune_native",
      "sources": ["src/addon.c", "src/dnnl_conv.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["/usr/include/openblas"],
      "cflags_c": ["-O3", "-std=c11", "-ffp-contract=off", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"],
      "ldflags": ["-pthread"],
      "libraries": ["-lopenblas"],
      "conditions": [
        # oneDNN convolutions when its headers are installed (Debian: libdnnl-dev) and not switched
        # off with METAPRUNE_NATIVE_DNNL=0 at build time
        ["'<!(test \"$METAPRUNE_NATIVE_DNNL\" != 0 && test -f /usr/include/dnnl.h && echo yes || echo no)' == 'yes'", {
          "defines": ["MP_DNNL"],
          "cflags_c": ["-fopenmp"],
          "libraries": ["-ldnnl", "-lgomp"]
        }]
      ]
    }
  ]
}
