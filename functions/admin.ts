/** The admin function: the admin API and status page behind an IAM-authorised function URL, and the lag sampler. */
import { createAdminHandler } from '../shared/admin/admin-handler.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../shared/admin/status-page.js';

export const handler = createAdminHandler({ page: { html: STATUS_PAGE_HTML, headers: STATUS_PAGE_HEADERS } });
