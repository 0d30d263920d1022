// Accessible names Django's admin leaves out, added after its own scripts build the widgets.
// Deferred, so its `load` listener runs after SelectFilter2.js's, which builds the filter boxes.
'use strict';
{
    // SelectFilter2 (filter_horizontal) names each filter box by an aria-label on a bare <span>
    // inside the box's <label>; ARIA ignores a name on a span without a role, so the box had none.
    function nameFilterBoxes(root) {
        for (const icon of root.querySelectorAll('.search-label-icon[aria-label]:not([role])')) {
            icon.setAttribute('role', 'img');
        }
    }

    // The split date-and-time widget writes "Date:" and "Time:" as bare text before its two
    // inputs; each becomes the input's <label>, and the field's own label points at the date.
    function labelDateTimes(root) {
        for (const widget of root.querySelectorAll('p.datetime')) {
            for (const input of widget.querySelectorAll('input.vDateField, input.vTimeField')) {
                labelFromText(input);
            }
            const fieldLabel = widget.closest('.flex-container')?.querySelector(':scope > label');
            const date = widget.querySelector('input.vDateField');
            if (fieldLabel && !fieldLabel.htmlFor && date?.id) {
                fieldLabel.htmlFor = date.id;
            }
        }
    }

    function labelFromText(input) {
        const text = input.previousSibling;
        if (!input.id || text?.nodeType !== Node.TEXT_NODE || !text.textContent.trim()) {
            return;
        }
        const label = document.createElement('label');
        label.htmlFor = input.id;
        label.textContent = text.textContent.trim();
        text.replaceWith(' ', label, ' ');
    }

    function nameAll(root) {
        nameFilterBoxes(root);
        labelDateTimes(root);
    }

    window.addEventListener('load', () => nameAll(document));
    // A row added to an inline formset is built from the empty form, after the page loaded.
    document.addEventListener('formset:added', (event) => nameAll(event.target));
}
