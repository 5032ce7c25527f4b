// TextTable: rows of cells under a header, aligned for a terminal; what the
// CLI's text output is made of.
#ifndef DATAPOOL_CLIENT_TEXT_TABLE_H_
#define DATAPOOL_CLIENT_TEXT_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

namespace datapool {
namespace cli {

// Rows of cells under a header, each column padded to its widest cell
// (counted in UTF-8 code points), two spaces between columns, no trailing
// spaces. A plain value type; thread-compatible.
class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns);

  // One cell per column; missing cells are empty, extra ones dropped.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // The header line, then one line per row.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cli
}  // namespace datapool

#endif  // DATAPOOL_CLIENT_TEXT_TABLE_H_
