// The card rendered with HubSpot's own test renderer (@hubspot/ui-extensions/testing) and a stubbed
// hubspot.fetch: what it shows for a deal, a deal billed per period (its totals and each invoice), a deal that
// cannot be invoiced (each reason), warnings, a company (its invoices and its deals that cannot be invoiced), a
// record without invoices, and a failing backend.
import React from 'react';
import { describe, expect, it, vi } from 'vitest';
import { Alert, EmptyState, Link, LoadingSpinner, StatusTag, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { BalanceCardView } from '../src/app/cards/BalanceCardView.jsx';

const DEAL = {
  objectType: 'deal',
  objectId: '701',
  portalId: 123,
  hasInvoices: true,
  state: 'created',
  message: null,
  reasons: [],
  warnings: [],
  invoice: {
    dealId: '701',
    invoiceNumber: 'INV-701',
    url: 'https://invoice.secure.freee.co.jp/reports/invoices/701',
    status: 'overdue',
    amountInvoiced: 110000,
    amountPaid: 10000,
    amountOutstanding: 100000,
    dueDate: '2026-12-20',
    daysOverdue: 5,
    paidDate: null,
  },
};

const COMPANY = {
  objectType: 'company',
  objectId: '5005',
  portalId: 123,
  hasInvoices: true,
  message: null,
  summary: {
    outstandingTotal: 265000,
    overdueTotal: 155000,
    overdueInvoiceCount: 2,
    oldestOverdueDays: 25,
    lastPaymentDate: '2026-12-10',
    risk: 'overdue',
  },
  invoices: [
    { dealId: '203', invoiceNumber: 'INV-203', url: 'https://freee.example/203', status: 'overdue', amountInvoiced: 55000, amountPaid: 0, amountOutstanding: 55000, dueDate: '2026-11-30', daysOverdue: 25, paidDate: null },
    { dealId: '202', invoiceNumber: 'INV-202', url: 'https://freee.example/202', status: 'overdue', amountInvoiced: 110000, amountPaid: 10000, amountOutstanding: 100000, dueDate: '2026-12-20', daysOverdue: 5, paidDate: null },
    { dealId: '201', invoiceNumber: 'INV-201', url: 'https://freee.example/201', status: 'unpaid', amountInvoiced: 110000, amountPaid: 0, amountOutstanding: 110000, dueDate: '2027-01-31', daysOverdue: 0, paidDate: null },
  ],
  notInvoiced: [],
};

const PERIOD = (period, status, paid, outstanding) => ({
  dealId: '801',
  unit: `801:${period}`,
  period,
  label: `2027年${period}月分`,
  consolidated: false,
  invoiceNumber: `INV-80${period}`,
  url: `https://freee.example/80${period}`,
  billingDate: `2027-0${period}-01`,
  status,
  amountInvoiced: paid + outstanding,
  amountPaid: paid,
  amountOutstanding: outstanding,
  dueDate: `2027-0${period + 1}-28`,
  daysOverdue: status === 'overdue' ? 5 : 0,
  paidDate: null,
});

const SCHEDULED = {
  objectType: 'deal',
  objectId: '801',
  portalId: 123,
  hasInvoices: true,
  state: 'scheduled',
  message: null,
  reasons: [],
  warnings: [],
  invoice: PERIOD(2, 'overdue', 0, 55000),
  invoices: [PERIOD(1, 'paid', 165000, 0), PERIOD(2, 'overdue', 0, 55000), PERIOD(3, 'partially_paid', 30000, 25000)],
  summary: {
    status: 'overdue',
    invoiceCount: 3,
    amountInvoiced: 275000,
    amountPaid: 195000,
    amountOutstanding: 80000,
    dueDate: '2027-03-28',
    daysOverdue: 5,
    paidDate: null,
  },
};

const NO_COMPANY = {
  code: 'deal.company_missing',
  field: 'associations.company',
  ja: '取引に会社が関連付けられていません。請求先の会社を関連付けてください。',
  en: 'No company is associated with the deal. Associate the company to bill.',
};
const NEGATIVE = {
  code: 'deal.amount_negative',
  field: 'amount',
  ja: '金額がマイナスです（-5）。',
  en: 'The amount is negative (-5).',
};
const MISMATCH = {
  code: 'deal.amount_mismatch',
  field: 'amount',
  ja: '取引の金額（165000）と明細の合計（¥149,999）が一致しません。請求書は明細から作成します。',
  en: "The deal amount (165000) differs from the line items' total (¥149,999); the invoice follows the line items.",
};

const INVALID = {
  objectType: 'deal',
  objectId: '702',
  portalId: 123,
  hasInvoices: false,
  state: 'invalid',
  message: {
    ja: 'この取引はfreeeの請求書を作成できません。次の点を直すと、次のきっかけで作成されます。',
    en: 'This deal cannot be invoiced in freee. Fix what follows and it is invoiced on its next trigger.',
  },
  reasons: [NO_COMPANY, NEGATIVE],
  warnings: [],
  invoice: null,
};

const NONE = {
  objectType: 'deal',
  objectId: '9',
  portalId: 123,
  hasInvoices: false,
  state: null,
  message: { ja: 'freeeの請求書はまだありません', en: 'No freee invoices yet' },
  reasons: [],
  warnings: [],
  invoice: null,
};

function answering(body, status = 200) {
  return vi.fn(async () => ({ ok: status >= 200 && status < 300, status, json: async () => body }));
}

function renderCard({ objectTypeId, objectId = '701', locale = 'ja-jp', fetcher }) {
  const renderer = createRenderer('crm.record.sidebar');
  const context = renderer.mocks.context;
  context.crm.objectTypeId = objectTypeId;
  context.crm.objectId = objectId;
  context.user.locale = locale;
  renderer.render(<BalanceCardView context={context} fetcher={fetcher} />);
  return renderer;
}

describe('freee balance card', () => {
  it('asks the backend for the deal on screen, signed by hubspot.fetch', async () => {
    const fetcher = answering(DEAL);
    const { find, waitFor } = renderCard({ objectTypeId: '0-3', fetcher });
    expect(find(LoadingSpinner)).toBeTruthy();
    await waitFor(() => expect(find(Link).text).toEqual('INV-701'));
    const [url, options] = fetcher.mock.calls[0];
    const asked = new URL(url);
    expect(asked.pathname).toEqual('/cards/balance');
    expect(Object.fromEntries(asked.searchParams)).toEqual({ objectType: 'deal', objectId: '701', portalId: '123' });
    expect(options).toEqual({ method: 'GET' });
  });

  it('shows a deal’s status, outstanding amount, days overdue and invoice link in Japanese', async () => {
    const { find, findByTestId, waitFor } = renderCard({ objectTypeId: '0-3', fetcher: answering(DEAL) });
    await waitFor(() => expect(findByTestId(Text, 'outstanding').text).toEqual('100,000円'));
    expect(find(StatusTag).text).toEqual('延滞');
    expect(findByTestId(Text, 'days-overdue').text).toEqual('5日');
    expect(find(Link).props.href).toEqual(DEAL.invoice.url);
  });

  it('shows a deal billed per period with its totals over every invoice, then each invoice and its period', async () => {
    const { findAll, findByTestId, waitFor } = renderCard({ objectTypeId: '0-3', objectId: '801', fetcher: answering(SCHEDULED) });
    await waitFor(() => expect(findByTestId(Text, 'outstanding').text).toEqual('80,000円'));
    expect(findByTestId(Text, 'days-overdue').text).toEqual('5日');
    expect(findAll(Link).map((l) => l.text)).toEqual(['INV-801', 'INV-802', 'INV-803']);
    expect(findAll(StatusTag).map((tag) => tag.text)).toEqual(['延滞', '入金済', '延滞', '一部入金']);
    expect(findAll(Text).some((t) => t.text === '2027年3月分')).toBe(true);
  });

  it('shows a company’s totals, overdue count and every invoice link in English', async () => {
    const { findAll, findByTestId, waitFor } = renderCard({
      objectTypeId: '0-2',
      objectId: '5005',
      locale: 'en-us',
      fetcher: answering(COMPANY),
    });
    await waitFor(() => expect(findByTestId(Text, 'outstanding').text).toEqual('¥265,000'));
    expect(findByTestId(Text, 'overdue-total').text).toEqual('¥155,000');
    expect(findByTestId(Text, 'overdue-count').text).toEqual('2');
    const links = findAll(Link);
    expect(links.map((l) => l.text)).toEqual(['INV-203', 'INV-202', 'INV-201']);
    expect(links.map((l) => l.props.href)).toEqual(COMPANY.invoices.map((i) => i.url));
    expect(findAll(StatusTag).map((tag) => tag.text)).toEqual(['Overdue', 'Overdue', 'Overdue', 'Unpaid']);
  });

  it('shows each reason a deal cannot be invoiced instead of "no invoices yet", in the user’s language', async () => {
    const { find, findAll, waitFor } = renderCard({ objectTypeId: '0-3', objectId: '702', fetcher: answering(INVALID) });
    await waitFor(() => expect(find(Alert).props.title).toEqual(INVALID.message.ja));
    expect(findAll(EmptyState)).toEqual([]);
    expect(findAll(Text).filter((t) => String(t.props.testId).startsWith('reason-')).map((t) => t.text)).toEqual([NO_COMPANY.ja, NEGATIVE.ja]);

    const english = renderCard({ objectTypeId: '0-3', objectId: '702', locale: 'en-us', fetcher: answering(INVALID) });
    await english.waitFor(() => expect(english.find(Alert).props.title).toEqual(INVALID.message.en));
    expect(english.findAll(Text).filter((t) => String(t.props.testId).startsWith('reason-')).map((t) => t.text)).toEqual([NO_COMPANY.en, NEGATIVE.en]);
  });

  it('shows what validation warned about beside a deal’s invoice', async () => {
    const warned = { ...DEAL, warnings: [MISMATCH] };
    const { find, findByTestId, waitFor } = renderCard({ objectTypeId: '0-3', locale: 'en-us', fetcher: answering(warned) });
    await waitFor(() => expect(find(Alert).props.title).toEqual('Please check'));
    expect(findByTestId(Text, 'warning-0').text).toEqual(MISMATCH.en);
    expect(find(Link).text).toEqual('INV-701');
  });

  it('lists a company’s deals that cannot be invoiced with why', async () => {
    const company = { ...COMPANY, notInvoiced: [{ dealId: '204', state: 'invalid', reasons: [NO_COMPANY] }] };
    const { findAll, findByTestId, waitFor } = renderCard({ objectTypeId: '0-2', objectId: '5005', fetcher: answering(company) });
    await waitFor(() => expect(findByTestId(Text, 'company-reason-0').text).toEqual(NO_COMPANY.ja));
    expect(findAll(Text).some((t) => t.text === '取引 204')).toBe(true);
  });

  it('says there are no invoices yet for a record the ledger does not know', async () => {
    const { find, waitFor } = renderCard({ objectTypeId: '0-3', objectId: '9', fetcher: answering(NONE) });
    await waitFor(() => expect(find(EmptyState).props.title).toEqual('freeeの請求書はまだありません'));
  });

  it('shows an error when the backend refuses the request', async () => {
    const { find, waitFor } = renderCard({ objectTypeId: '0-3', locale: 'en-us', fetcher: answering({ error: 'invalid_signature' }, 401) });
    await waitFor(() => expect(find(Alert).props.variant).toEqual('error'));
    expect(find(Alert).props.title).toEqual('Loading failed');
  });

  it('shows an error when the backend cannot be reached', async () => {
    const fetcher = vi.fn(async () => {
      throw new Error('network down');
    });
    const { find, waitFor } = renderCard({ objectTypeId: '0-2', fetcher });
    await waitFor(() => expect(find(Alert).props.title).toEqual('読み込みエラー'));
  });

  it('does not call the backend on other record types', () => {
    const fetcher = answering(DEAL);
    const { find } = renderCard({ objectTypeId: '0-1', fetcher });
    expect(find(Text).text).toEqual('このカードは取引と会社でのみ使えます。');
    expect(fetcher).not.toHaveBeenCalled();
  });
});
