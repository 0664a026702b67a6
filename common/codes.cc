#include "common/codes.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace mir {
namespace {

constexpr absl::string_view kIso639_3[] = {
#include "iso639_3.inc"
};

constexpr absl::string_view kProvinces[] = {
    "AG", "AL", "AN", "AO", "AP", "AQ", "AR", "AT", "AV", "BA", "BG", "BI", "BL", "BN", "BO", "BR",
    "BS", "BT", "BZ", "CA", "CB", "CE", "CH", "CI", "CL", "CN", "CO", "CR", "CS", "CT", "CZ", "EN",
    "FC", "FE", "FG", "FI", "FM", "FR", "GE", "GO", "GR", "IM", "IS", "KR", "LC", "LE", "LI", "LO",
    "LT", "LU", "MB", "MC", "ME", "MI", "MN", "MO", "MS", "MT", "NA", "NO", "NU", "OG", "OR", "OT",
    "PA", "PC", "PD", "PE", "PG", "PI", "PN", "PO", "PR", "PT", "PU", "PV", "PZ", "RA", "RC", "RE",
    "RG", "RI", "RM", "RN", "RO", "SA", "SI", "SO", "SP", "SR", "SS", "SU", "SV", "TA", "TE", "TN",
    "TO", "TP", "TR", "TS", "TV", "UD", "VA", "VB", "VC", "VE", "VI", "VR", "VS", "VT", "VV",
};

template <size_t N>
bool InSorted(const absl::string_view (&list)[N], absl::string_view code) {
  return std::binary_search(std::begin(list), std::end(list), code);
}

}  // namespace

bool IsIso639_3(absl::string_view code) { return code.size() == 3 && InSorted(kIso639_3, code); }

bool IsItalianProvince(absl::string_view code) {
  return code.size() == 2 && InSorted(kProvinces, code);
}

}  // namespace mir
