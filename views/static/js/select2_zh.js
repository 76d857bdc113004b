// Select2's own messages in Chinese on Chinese pages (FAB ships Select2 without its language files).
(function ($) {
  if (!$ || !$.fn.select2 || (document.documentElement.lang || "").indexOf("zh") !== 0) { return; }
  $.fn.select2.defaults.set("language", {
    errorLoading: function () { return "无法载入结果。"; },
    inputTooLong: function (a) { return "请删除" + (a.input.length - a.maximum) + "个字符"; },
    inputTooShort: function (a) { return "请再输入至少" + (a.minimum - a.input.length) + "个字符"; },
    loadingMore: function () { return "载入更多结果…"; },
    maximumSelected: function (a) { return "最多只能选择" + a.maximum + "项"; },
    noResults: function () { return "未找到结果"; },
    searching: function () { return "搜索中…"; },
    removeAllItems: function () { return "删除所有项目"; },
    removeItem: function () { return "删除项目"; },
    search: function () { return "搜索"; }
  });
})(window.jQuery);
