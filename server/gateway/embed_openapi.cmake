# cmake -DIN=<json> -DOUT=<cc> -P embed_openapi.cmake: writes OUT, which
# defines OpenApiDocument() (openapi_document.h) as IN's text.
file(READ "${IN}" text)
file(WRITE "${OUT}" "// Generated from ${IN} by embed_openapi.cmake.
#include \"server/gateway/openapi_document.h\"

namespace datapool {

absl::string_view OpenApiDocument() {
  static constexpr char kText[] = R\"openapi_json(${text})openapi_json\";
  return absl::string_view(kText, sizeof(kText) - 1);
}

}  // namespace datapool
")
