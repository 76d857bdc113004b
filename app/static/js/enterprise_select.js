// Employer fields of the panel's application form: a Select2 search (two or more characters) instead of
// a list of every enterprise (views/forms.py EnterpriseAutocompleteWidget).
$(function () {
  $("select.enterprise-autocomplete").each(function () {
    var el = $(this);
    el.select2({
      allowClear: true,
      placeholder: el.data("placeholder"),
      minimumInputLength: 2,
      ajax: {
        url: el.data("url"),
        dataType: "json",
        delay: 250,
        data: function (params) { return {q: params.term}; },
        processResults: function (rows) {
          return {results: rows.map(function (row) { return {id: row.id, text: row.label}; })};
        }
      }
    });
  });
});
